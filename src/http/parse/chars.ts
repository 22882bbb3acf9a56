// Byte classes of RFC 9110 §5.6.2 (token), §5.5 (field values) and RFC 9112 §3.2 (request target),
// as 256-entry tables so the parser checks a byte with one load.

function table(pred: (c: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = pred(c) ? 1 : 0;
  return t;
}

const isAlnum = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);

/** tchar: "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
export const TOKEN = table((c) => isAlnum(c) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c)));

/** field-vchar / SP / HTAB: VCHAR, obs-text (0x80-0xFF), SP, HTAB. No CTLs, no DEL, no bare CR or LF. */
export const FIELD_VALUE = table((c) => c === 0x09 || c === 0x20 || (c >= 0x21 && c <= 0x7e) || c >= 0x80);

/** request-target bytes: visible ASCII only (no SP, CTL, DEL or non-ASCII). */
export const TARGET = table((c) => c >= 0x21 && c <= 0x7e);

/** Host header value: reg-name / IPv4 / IP-literal plus ":" port (RFC 3986 §3.2.2). */
export const HOST = table((c) => isAlnum(c) || "-._~!$&'()*+,;=:[]%".includes(String.fromCharCode(c)));

/** HEX digit value + 1, 0 for non-hex (so 0 means "not a hex digit"). */
export const HEX = (() => {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) {
    if (c >= 0x30 && c <= 0x39) t[c] = c - 0x30 + 1;
    else if (c >= 0x41 && c <= 0x46) t[c] = c - 0x41 + 11;
    else if (c >= 0x61 && c <= 0x66) t[c] = c - 0x61 + 11;
  }
  return t;
})();

export const CR = 13;
export const LF = 10;
export const SP = 32;
export const HTAB = 9;
export const COLON = 58;
