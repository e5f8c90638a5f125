// What every aggregate of a window with no samples holds, written out here rather than taken from src: a test's
// expectation must not be the code under test.
export const NO_SAMPLES = {
  count: 0,
  sum: 0,
  avg: null,
  min: null,
  max: null,
  stddev: null,
  p50: null,
  p95: null,
  p99: null,
};
