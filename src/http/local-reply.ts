// Replies Fulcrum makes itself (errors and refusals), each one buffer naming its reason code and the request
// id so a user can find it in the logs. Error paths are rare, so these are built when needed.
import { Reason, type ReasonCode } from '../core/errors.ts';

const statusText: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  413: 'Content Too Large',
  414: 'URI Too Long',
  417: 'Expectation Failed',
  431: 'Request Header Fields Too Large',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

/** The reason code that goes with a parser status. */
export function reasonForStatus(status: number): ReasonCode {
  switch (status) {
    case 414:
      return Reason.uriTooLong;
    case 431:
      return Reason.headersTooLarge;
    case 501:
      return Reason.notImplemented;
    case 505:
      return Reason.versionNotSupported;
    default:
      return Reason.badRequest;
  }
}

/**
 * Builds the whole reply as one buffer. `head` is true for HEAD requests (no body bytes), `close` adds
 * `Connection: close`, `keepAlive10` adds `Connection: keep-alive` for HTTP/1.0 clients that asked for it.
 */
export function localReply(status: number, reason: ReasonCode, requestId: string, close: boolean, head: boolean, keepAlive10: boolean, limit = '', traceId = ''): Buffer {
  const text = statusText[status] ?? 'Error';
  // `limit`: which circuit-breaker cap turned the request away (circuit_open)
  const body = `${status} ${text}\nreason: ${reason}\n${limit === '' ? '' : `limit: ${limit}\n`}request-id: ${requestId}\n${traceId === '' ? '' : `trace-id: ${traceId}\n`}`;
  const connection = close ? 'connection: close\r\n' : keepAlive10 ? 'connection: keep-alive\r\n' : '';
  const headText =
    `HTTP/1.1 ${status} ${text}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${body.length}\r\n` +
    `x-fulcrum-reason: ${reason}\r\n${limit === '' ? '' : `x-fulcrum-limit: ${limit}\r\n`}${connection}\r\n`;
  return Buffer.from(head ? headText : headText + body, 'latin1');
}
