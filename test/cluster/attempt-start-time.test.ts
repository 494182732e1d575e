// An attempt's start time keys what its subtasks share (FileSource's listing): two attempts of a
// job deployed within one millisecond must still get different ones.
import { describe, expect, it } from 'vitest';
import { nextAttemptStartTime } from '../../src/cluster/local-executor.js';

describe('nextAttemptStartTime', () => {
  it('is now, and later than every earlier attempt even within one millisecond', () => {
    const before = Date.now();
    const times = Array.from({ length: 2000 }, () => nextAttemptStartTime());
    expect(times[0]).toBeGreaterThanOrEqual(before);
    for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThan(times[i - 1]!);
    // Ahead of the clock by at most the attempts made within the same milliseconds.
    expect(times.at(-1)! - Date.now()).toBeLessThan(times.length);
  });
});
