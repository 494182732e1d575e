// The argument parser and error formatting, in process (the command itself is tested by spawning it).
import { describe, expect, it } from 'vitest';
import {
  CliError,
  describeError,
  oneLine,
  reportError,
  UsageError,
  type CliIO,
} from '../../src/cli/errors.js';
import {
  formatOptions,
  integerIn,
  InvalidValue,
  parseArgs,
  wantsHelp,
  type OptionTable,
} from '../../src/cli/options.js';

// Shaped like the flags later versions add to `weir run`, to show the parser takes them as rows.
const table = {
  parallelism: { short: 'p', value: 'N', help: 'parallelism', parse: integerIn(1, 32768) },
  'claim-mode': {
    value: 'MODE',
    help: 'no-claim|claim',
    parse: (raw: string) => {
      if (raw !== 'claim' && raw !== 'no-claim') throw new InvalidValue("'no-claim' or 'claim'");
      return raw;
    },
  },
  savepoint: { short: 's', value: 'PATH', help: 'restore from', parse: (raw: string) => raw },
  resume: { help: 'resume' },
} satisfies OptionTable;

const parse = (args: string[]) => parseArgs(args, table, 'weir run');
const usageError = (args: string[]): string => {
  try {
    parse(args);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as UsageError).message;
  }
  throw new Error(`no error for ${args.join(' ')}`);
};

describe('parseArgs', () => {
  it('reads short, long and --long=value forms, switches, and operands anywhere before --', () => {
    const r = parse(['-p', '4', 'job.ts', '--claim-mode=claim', '-s', '/sp', '--resume']);
    expect(r.options).toEqual({ parallelism: 4, 'claim-mode': 'claim', savepoint: '/sp', resume: true });
    expect(r.operands).toEqual(['job.ts']);
    expect(r.rest).toEqual([]);
    expect(parse(['--parallelism', '2']).options.parallelism).toBe(2);
    expect(parse(['--parallelism=3']).options.parallelism).toBe(3);
  });

  it('passes everything after the first -- untouched, options and further -- included', () => {
    const r = parse(['job.ts', '--', '-p', '9', '--', '--nope', 'x']);
    expect(r.options).toEqual({});
    expect(r.rest).toEqual(['-p', '9', '--', '--nope', 'x']);
  });

  it('keeps values that look like options when they follow a value option', () => {
    expect(parse(['-s', '-odd-path']).options.savepoint).toBe('-odd-path');
    expect(parse(['--savepoint=--x']).options.savepoint).toBe('--x');
    expect(parse(['-']).operands).toEqual(['-']);
  });

  it('explains each mistake in one line naming the flag as typed', () => {
    expect(usageError(['--foo'])).toBe("unknown option '--foo' for 'weir run'; see 'weir run --help'");
    expect(usageError(['-x'])).toBe("unknown option '-x' for 'weir run'; see 'weir run --help'");
    expect(usageError(['-p4'])).toBe("unknown option '-p4' for 'weir run'; write '-p 4'");
    expect(usageError(['-p=4'])).toBe("unknown option '-p=4' for 'weir run'; write '-p 4'");
    expect(usageError(['-p'])).toBe("option '-p' needs a value (N); see 'weir run --help'");
    expect(usageError(['-p', '--resume'])).toBe("option '-p' needs a value (N); see 'weir run --help'");
    expect(usageError(['-p', '--'])).toBe("option '-p' needs a value (N); see 'weir run --help'");
    expect(usageError(['--parallelism', 'abc'])).toBe(
      "invalid value 'abc' for '--parallelism': expected an integer from 1 to 32768",
    );
    expect(usageError(['--claim-mode', 'maybe'])).toBe(
      "invalid value 'maybe' for '--claim-mode': expected 'no-claim' or 'claim'",
    );
    expect(usageError(['--resume=yes'])).toBe("option '--resume' takes no value; write '--resume' alone");
    expect(usageError(['-p', '1', '-p', '2'])).toBe("option '-p' given twice for 'weir run'; give it once");
    expect(usageError(['-p', '1', '--parallelism=2'])).toBe(
      "option '-p' and '--parallelism' given twice for 'weir run'; give it once",
    );
  });
});

describe('integerIn', () => {
  it('accepts digits in range only', () => {
    const p = integerIn(1, 128);
    expect(p('1')).toBe(1);
    expect(p('0128')).toBe(128);
    for (const bad of [
      '0',
      '129',
      '',
      ' 1',
      '1.5',
      '1e2',
      '-1',
      '+1',
      '0x10',
      'Infinity',
      '99999999999999999999',
    ]) {
      expect(() => p(bad), bad).toThrow(InvalidValue);
    }
  });
});

describe('wantsHelp', () => {
  it('sees -h or --help only before --', () => {
    expect(wantsHelp(['job.ts', '-h'])).toBe(true);
    expect(wantsHelp(['--foo', '--help'])).toBe(true);
    expect(wantsHelp(['job.ts', '--', '--help'])).toBe(false);
  });
});

describe('formatOptions', () => {
  it('prints one aligned line per option', () => {
    expect(formatOptions(table)).toEqual([
      '  -p, --parallelism N     parallelism',
      '      --claim-mode MODE   no-claim|claim',
      '  -s, --savepoint PATH    restore from',
      '      --resume            resume',
    ]);
  });
});

describe('error text', () => {
  it('keeps one line, and the line after an introduction that ends with a colon', () => {
    expect(oneLine('boom\n    at x (y.ts:1:1)')).toBe('boom');
    expect(oneLine('Transform failed with 1 error:\n/j.ts:2:48: ERROR: Expected ")"\nmore')).toBe(
      'Transform failed with 1 error: /j.ts:2:48: ERROR: Expected ")"',
    );
    expect(oneLine('\n  padded  \n')).toBe('padded');
  });

  it('names the error class only where the message needs it', () => {
    expect(describeError(new Error('plain'))).toBe('plain');
    expect(describeError(new TypeError('x is not a function'))).toBe('TypeError: x is not a function');
    expect(describeError('thrown string\nline 2')).toBe('thrown string');
    expect(new UsageError('x')).toBeInstanceOf(CliError);
  });

  it("reports a path the system refuses as the user's to fix: exit 2 and one line, not an internal error", () => {
    const lines: string[] = [];
    const io: CliIO = { out: () => undefined, err: (l) => void lines.push(l), env: {} };
    const systemError = (code: string, syscall: string, path: string): Error =>
      Object.assign(new Error(`${code}: something, ${syscall} '${path}'`), { code, syscall, path });
    expect(reportError(systemError('EACCES', 'open', '/sp/op-1-0-keyed.state'), io)).toBe(2);
    expect(reportError(systemError('ELOOP', 'stat', '/sp/x'), io)).toBe(2);
    expect(lines).toEqual([
      'weir: cannot open /sp/op-1-0-keyed.state: permission denied (EACCES)',
      'weir: cannot stat /sp/x: too many levels of symbolic links (a link that leads back to itself?) (ELOOP)',
    ]);
    // Other failures of weir's own code stay internal errors (exit 1).
    lines.length = 0;
    expect(reportError(systemError('EBADF', 'read', '/sp/x'), io)).toBe(1);
    expect(reportError(new Error('no path'), io)).toBe(1);
    expect(lines.every((l) => l.startsWith('weir: internal error: '))).toBe(true);
  });
});
