// A tiny micro-benchmark runner: runs `fn` in timed batches until `seconds` pass (bounded), and prints the
// median nanoseconds per call over the batches. Micro numbers guide hot-path work; `npm run bench` decides.
export function measure(name: string, fn: () => void, seconds = 1, batch = 10_000): number {
  for (let i = 0; i < batch; i++) fn(); // warm up, let the JIT settle
  const samples: number[] = [];
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end && samples.length < 10_000) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) fn();
    samples.push(Number(process.hrtime.bigint() - t0) / batch);
  }
  samples.sort((a, b) => a - b);
  const median = samples[samples.length >> 1];
  process.stdout.write(`${name.padEnd(48)} ${median.toFixed(1).padStart(9)} ns/op  (${samples.length} batches of ${batch})\n`);
  return median;
}
