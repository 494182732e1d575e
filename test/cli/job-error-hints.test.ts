import { describe, expect, it } from 'vitest';
import { explainJobError } from '../../src/cli/job-error-hints.js';

describe('explainJobError', () => {
  it("adds weir's name to a Flink name that is not a function", () => {
    expect(explainJobError('TypeError: env.addSource is not a function')).toBe(
      "TypeError: env.addSource is not a function (Flink's addSource; in weir: env.fromSource(source, name) (or fromSource(source, watermarkStrategy, name)))",
    );
    expect(explainJobError('TypeError: ctx.timerService is not a function')).toMatch(
      /\(Flink's timerService; in weir: ctx\.timerService, a property in weir/,
    );
    expect(explainJobError('TypeError: this.getRuntimeContext is not a function')).toMatch(
      /in weir: the RuntimeContext that open\(ctx\) is given/,
    );
  });

  it('explains #private fields, and leaves every other message as it is', () => {
    expect(
      explainJobError(
        'TypeError: Cannot read private member #n from an object whose class did not declare it',
      ),
    ).toMatch(
      / \(weir gives each subtask a copy of a function object, without its #private fields: use ordinary fields\)$/,
    );
    for (const m of [
      'TypeError: s.foo is not a function',
      'Error: boom',
      'addSource is not a functional thing',
    ])
      expect(explainJobError(m)).toBe(m);
  });
});
