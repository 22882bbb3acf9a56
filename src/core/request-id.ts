// Request ids for exchanges that arrive without one: a random 64-bit prefix drawn once per process and a
// counter, "3f9c2a7b1e4d5f60-00000001a3". Unique across processes and restarts like a UUID, but a string
// concatenation per request instead of a random draw (the id is made on every request, so cost matters).
import { randomBytes } from 'node:crypto';

const prefix = randomBytes(8).toString('hex') + '-';
let counter = 0;

export function nextRequestId(): string {
  counter++;
  const hex = counter.toString(16);
  return prefix + '0000000000'.slice(hex.length) + hex;
}
