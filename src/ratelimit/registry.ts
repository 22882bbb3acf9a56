// Every rate-limiting algorithm is one file and one line here; the policy schema is derived from this list.
import { fixedWindow } from './algorithm/fixed-window.ts';
import { leakyBucket } from './algorithm/leaky-bucket.ts';
import { slidingWindowCounter } from './algorithm/sliding-window-counter.ts';
import { slidingWindowLog } from './algorithm/sliding-window-log.ts';
import { tokenBucket } from './algorithm/token-bucket.ts';

export const algorithmPlugins = [tokenBucket, leakyBucket, fixedWindow, slidingWindowLog, slidingWindowCounter] as const;

/** The default: O(1) per key, no edge burst (the usual production choice). */
export const defaultAlgorithm = 'sliding-window-counter';
