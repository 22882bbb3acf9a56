// Regular expressions and path globs of route match conditions, compiled once per generation. A pattern always
// matches the whole value: it is checked on its own first (so `a)|(b` cannot escape the anchors), then wrapped
// as ^(?:…)$. Globs are translated to such a RegExp: `**` crosses segments, `*` and `?` stay inside one.

/** Longest regex or glob accepted: patterns run on the request path, a bound keeps them reviewable. */
export const maxPatternLength = 1000;

/** The engine's complaint about `pattern` (`/(/: Unterminated group`), or null when it compiles. */
export function regexError(pattern: string): string | null {
  try {
    new RegExp(pattern);
    new RegExp(anchoredSource(pattern));
    return null;
  } catch (error) {
    return (error as Error).message.replace(/^Invalid regular expression: /, '');
  }
}

function anchoredSource(pattern: string): string {
  return `^(?:${pattern})$`;
}

/** A pattern that passed `regexError`, anchored to match whole values. */
export function anchoredRegExp(pattern: string): RegExp {
  return new RegExp(anchoredSource(pattern));
}

const regexSpecial = /[\\^$.|+()[\]{}]/;

/**
 * A path glob as an anchored RegExp: `**` any characters including "/", `*` any characters but "/", `?` one
 * character but "/"; everything else literal (`/static/**.css`, `/v?/users/*`).
 */
export function globRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') {
      if (glob[i + 1] === '*') {
        source += '.*';
        while (glob[i + 1] === '*') i++;
      } else {
        source += '[^/]*';
      }
    } else if (c === '?') {
      source += '[^/]';
    } else {
      source += regexSpecial.test(c) ? `\\${c}` : c;
    }
  }
  return new RegExp(`^${source}$`);
}

/** Whether a glob has wildcards at all (one without is an exact path). */
export function isLiteralGlob(glob: string): boolean {
  return glob.indexOf('*') < 0 && glob.indexOf('?') < 0;
}
