import { describe, expect, it } from 'vitest';
import { KeyGroupRange } from '../../src/state/key-group.js';
import { TimerService, type TimeDomain } from '../../src/runtime/timer-service.js';
import { Rng } from '../state/gen.js';

const M = 16;
const all = (): KeyGroupRange => KeyGroupRange.forSubtask(0, 1, M);

function fired(s: TimerService, domain: TimeDomain, time: number): Array<[unknown, number]> {
  const out: Array<[unknown, number]> = [];
  s.advance(domain, time, (_d, key, _kg, ts) => out.push([key, ts]));
  return out;
}

describe('TimerService', () => {
  it('fires event-time timers in timestamp order once the watermark passes them, each once', () => {
    const s = new TimerService(all());
    s.register('event', 1, 'a', 30);
    s.register('event', 2, 'b', 10);
    s.register('event', 1, 'a', 30); // the same key and time: one timer
    s.register('event', 1, 'a', 20);
    expect(s.size('event')).toBe(3);
    expect(fired(s, 'event', 9)).toEqual([]);
    expect(fired(s, 'event', 20)).toEqual([
      ['b', 10],
      ['a', 20],
    ]);
    expect(fired(s, 'event', 20)).toEqual([]);
    expect(fired(s, 'event', 100)).toEqual([['a', 30]]);
    expect(s.size('event')).toBe(0);
  });

  it('a watermark that does not advance fires nothing; processing time is a separate domain', () => {
    const s = new TimerService(all());
    s.register('processing', 0, 'p', 5);
    s.register('event', 0, 'e', 5);
    expect(fired(s, 'event', 10)).toEqual([['e', 5]]);
    s.register('event', 0, 'late', 3); // behind the watermark: fires with the next advance
    expect(fired(s, 'event', 10)).toEqual([]);
    expect(fired(s, 'event', 11)).toEqual([['late', 3]]);
    expect(s.nextTimestamp('processing')).toBe(5);
    expect(fired(s, 'processing', 5)).toEqual([['p', 5]]);
  });

  it('deleted timers do not fire, also when registered again after the delete', () => {
    const s = new TimerService(all());
    s.register('event', 3, 'k', 10);
    s.register('event', 3, 'k', 11);
    s.delete('event', 3, 'k', 10);
    s.delete('event', 3, 'k', 99); // unknown: nothing happens
    expect(s.timersOf('event', 3, 'k')).toEqual([11]);
    s.register('event', 3, 'k', 10);
    expect(fired(s, 'event', 20)).toEqual([
      ['k', 10],
      ['k', 11],
    ]);
    expect(s.nextTimestamp('event')).toBeUndefined();
  });

  it('timers registered while firing fire in the same advance when due', () => {
    const s = new TimerService(all());
    s.register('event', 0, 'k', 1);
    const out: number[] = [];
    s.advance('event', 10, (_d, key, kg, ts) => {
      out.push(ts);
      if (ts < 8) s.register('event', kg, key, ts + 3);
    });
    expect(out).toEqual([1, 4, 7, 10]);
  });

  it('a capture keeps the timers as they were while they keep changing', () => {
    const s = new TimerService(all());
    s.register('event', 0, 'a', 1);
    s.register('processing', 5, 'b', 2);
    const cap = s.capture();
    s.register('event', 0, 'a', 3);
    s.register('event', 7, 'c', 4);
    fired(s, 'processing', 10);
    const seen = cap.domains.map((d) => ({
      domain: d.domain,
      entries: d.maps.flatMap((m, i) => (m === undefined ? [] : [...m].map(([k, v]) => [i, k, v]))),
    }));
    expect(seen).toEqual([
      { domain: 'event', entries: [[0, 'a', [1]]] },
      { domain: 'processing', entries: [[5, 'b', [2]]] },
    ]);
    cap.release();
    while (!s.mergeStep());
    expect([...s.entries()].map((e) => [e.domain, e.keyGroup, e.stateKey, e.timestamps])).toEqual([
      ['event', 0, 'a', [1, 3]],
      ['event', 7, 'c', [4]],
    ]);
  });

  it('restores at another parallelism: each subtask takes the timers of its key groups, all fire once', () => {
    const rng = new Rng(5);
    const old = new TimerService(all());
    const expected: string[] = [];
    for (let i = 0; i < 300; i++) {
      const kg = rng.int(0, M - 1);
      const ts = rng.int(0, 50);
      const key = `k${kg}-${rng.int(0, 3)}`;
      if (!old.timersOf('event', kg, key).includes(ts)) expected.push(`${key}@${ts}`);
      old.register('event', kg, key, ts);
    }
    const entries = [...old.entries()];
    const got: string[] = [];
    for (let sub = 0; sub < 3; sub++) {
      const s = new TimerService(KeyGroupRange.forSubtask(sub, 3, M));
      s.restore(entries);
      s.advance('event', 1000, (_d, key, _kg, ts) => got.push(`${String(key)}@${ts}`));
    }
    expect(got.sort()).toEqual(expected.sort());
  });

  it('refuses a timestamp that is not a finite number', () => {
    const s = new TimerService(all());
    expect(() => s.register('event', 0, 'k', Number.NaN)).toThrow(/finite timestamp/);
  });
});
