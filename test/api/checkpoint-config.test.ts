import { describe, expect, it } from 'vitest';
import {
  CheckpointConfig,
  CheckpointConfigError,
  DEFAULT_CHECKPOINT_SETTINGS,
  parseDuration,
  StreamExecutionEnvironment,
} from '../../src/index.js';

describe('checkpoint configuration', () => {
  it("starts from Flink's defaults", () => {
    const env = new StreamExecutionEnvironment();
    expect(env.checkpointConfig.enabled).toBe(false);
    expect(env.checkpointConfig.settings).toEqual(DEFAULT_CHECKPOINT_SETTINGS);
    expect(DEFAULT_CHECKPOINT_SETTINGS).toMatchObject({
      timeoutMs: 600_000,
      maxConcurrent: 1,
      tolerableFailures: 0,
      numRetained: 1,
    });
  });

  it('takes settings from enableCheckpointing and from a config object', () => {
    const env = new StreamExecutionEnvironment();
    env.enableCheckpointing(500, 'at-least-once');
    env.checkpointConfig.configure({ timeoutMs: 2000, minPauseMs: 100, retention: 'retain-on-cancellation' });
    expect(env.checkpointConfig.settings).toMatchObject({
      intervalMs: 500,
      mode: 'at-least-once',
      timeoutMs: 2000,
      minPauseMs: 100,
      retention: 'retain-on-cancellation',
    });
    expect(env.checkpointConfig.enabled).toBe(true);
  });

  it('rejects bad values with a message naming the setting', () => {
    const c = new StreamExecutionEnvironment().checkpointConfig;
    expect(() => c.setInterval(-1)).toThrow(CheckpointConfigError);
    // 0 turns checkpointing off in the config; enableCheckpointing(0) is refused, not silently off.
    const env = new StreamExecutionEnvironment();
    expect(() => env.enableCheckpointing(0)).toThrow(
      'enableCheckpointing needs an interval above 0 ms, got 0; to run without checkpoints, leave the call out',
    );
    expect(env.checkpointConfig.setInterval(0).enabled).toBe(false);
    expect(() => c.setTimeout(0)).toThrow(/checkpoint timeout must be a positive integer, got 0/);
    expect(() => c.setMaxConcurrentCheckpoints(1.5)).toThrow(/max concurrent checkpoints/);
    expect(() => c.setMode('sometimes' as never)).toThrow(/exactly-once/);
    expect(() => c.configure({ retention: 'forever' as never })).toThrow(/retain-on-cancellation/);
  });

  it('refuses times longer than a Node.js timer waits (they would fire after 1 ms)', () => {
    const c = new CheckpointConfig();
    const over = 2 ** 31;
    const longest = '2147483647 ms (about 24.8 days, the longest a Node.js timer waits)';
    expect(() => c.setInterval(over)).toThrow(`checkpoint interval must be at most ${longest}, got ${over}`);
    expect(() => c.setTimeout(over)).toThrow(`checkpoint timeout must be at most ${longest}, got ${over}`);
    expect(() => c.setMinPauseBetweenCheckpoints(over)).toThrow(
      /min pause between checkpoints must be at most/,
    );
    expect(c.setTimeout(over - 1).setInterval(over - 1).settings).toMatchObject({
      timeoutMs: over - 1,
      intervalMs: over - 1,
    });
  });

  it('refuses a config object with a key that is no setting, naming the ones there are', () => {
    const c = new CheckpointConfig();
    expect(() => c.configure({ interval: 1000 } as never)).toThrow(
      'unknown checkpoint setting(s) interval; allowed: intervalMs, mode, timeoutMs, minPauseMs, maxConcurrent, tolerableFailures, numRetained, retention, dir',
    );
    expect(() => c.configure(null as never)).toThrow(/must be an object/);
    // A bad value anywhere applies none of the others.
    expect(() => c.configure({ intervalMs: 500, timeoutMs: 0 })).toThrow(
      /checkpoint timeout must be a positive/,
    );
    expect(c.settings).toEqual(DEFAULT_CHECKPOINT_SETTINGS); // nothing was applied
  });

  it('takes a checkpoint directory, and refuses storage schemes it cannot write to', () => {
    const c = new CheckpointConfig();
    expect(c.setCheckpointStorage('/tmp/chk').settings.dir).toBe('/tmp/chk');
    expect(c.setCheckpointStorage('file:///tmp/other').settings.dir).toBe('/tmp/other');
    expect(c.setCheckpointStorage('file:///tmp/a%20b').settings.dir).toBe('/tmp/a b');
    expect(() => c.setCheckpointStorage('file://relative/x')).toThrow(
      /'file:\/\/relative\/x' is not a file URL of this machine .*; write file:\/\/\/absolute\/path, or a plain path/,
    );
    expect(() => c.setCheckpointStorage('file:///a%2Fb')).toThrow(
      /^checkpoint directory 'file:\/\/\/a%2Fb' is not a usable file URL \(File URL path must not include encoded \/ characters\); write file:\/\/\/absolute\/path, or a plain path$/,
    );
    expect(() => c.setCheckpointStorage('file:///tmp/a%00b')).toThrow(
      /^checkpoint directory 'file:\/\/\/tmp\/a%00b' is not a usable file URL \(its path holds a NUL byte \(%00\)\)/,
    );
    expect(() => c.setCheckpointStorage('s3://bucket/prefix')).toThrow(/not supported by this version/);
    expect(() => c.setCheckpointStorage('')).toThrow(/non-empty path/);
  });
});

describe('parseDuration', () => {
  it('reads the units users write', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('10s')).toBe(10_000);
    expect(parseDuration('2min')).toBe(120_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('1.1s')).toBe(1100);
    expect(parseDuration('0.25s')).toBe(250);
    expect(parseDuration('0.001s')).toBe(1);
    expect(parseDuration('00100ms')).toBe(100);
    expect(parseDuration(' 5 s')).toBe(5000);
    expect(parseDuration('1.50min')).toBe(90_000);
  });
  it('rejects anything else', () => {
    // Not whole milliseconds: 0.1ms was read as 0 (checkpoints off), 0.5ms as 1.
    for (const bad of [
      '',
      'ten',
      '-1s',
      '10 parsecs',
      '1e3',
      '0.1ms',
      '0.5ms',
      '1.5',
      '0.0001s',
      '0.0000000001s',
      '0.0000004ms',
      '1.0000001ms',
    ])
      expect(parseDuration(bad), bad).toBeUndefined();
  });
});
