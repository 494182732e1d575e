import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  CorruptMetadataError,
  decodeMetadata,
  encodeMetadata,
  type SnapshotMetadata,
} from '../../src/storage/metadata.js';

const WHERE = '/ckpt/job/chk-7/_metadata';
const OP_A = '0123456789abcdef0123456789abcdef';
const OP_B = 'fedcba9876543210fedcba9876543210';

function sample(): SnapshotMetadata {
  return {
    format: 'weir-snapshot',
    version: 1,
    weirVersion: '0.1.0',
    kind: 'checkpoint',
    id: 7,
    timestamp: 1732400000000,
    jobId: '6f1c2a4e-3b7d-4e8a-9c0f-1a2b3c4d5e6f',
    jobName: 'word-count',
    operators: [
      {
        operatorId: OP_A,
        uid: 'source',
        name: 'Source: numbers',
        parallelism: 1,
        maxParallelism: 128,
        subtasks: [
          {
            index: 0,
            keyGroups: null,
            keyed: null,
            operator: {
              path: 'op-01234567-0-operator.state',
              size: 60,
              crc32: 0xfedcba98,
              sections: [[0, 12, 20, 1]],
            },
            timers: null,
            sink: null,
            states: [{ name: 'position', kind: 'list', scope: 'operator', mode: 'union', entries: 1 }],
          },
        ],
      },
      {
        operatorId: OP_B,
        uid: null,
        name: 'Count',
        parallelism: 2,
        maxParallelism: 128,
        subtasks: [
          {
            index: 0,
            keyGroups: [0, 63],
            keyed: {
              path: 'op-fedcba98-0-keyed.state',
              size: 1234,
              crc32: 305419896,
              sections: [
                [0, 12, 100, 4294967295],
                [17, 112, 1000, 0],
              ],
            },
            operator: null,
            timers: { path: 'timers/op-fedcba98-0.state', size: 28, crc32: 1, sections: [] },
            sink: null,
            states: [{ name: 'count', kind: 'value', scope: 'keyed', entries: 123 }],
          },
          {
            index: 1,
            keyGroups: [64, 127],
            keyed: null,
            operator: null,
            timers: null,
            sink: { path: 'op-fedcba98-1-sink.state', size: 40, crc32: 2, sections: [[0, 12, 12, 3]] },
            states: [],
          },
        ],
      },
    ],
    extra: { note: 'anything', nested: [1, { a: null }] },
  };
}

/** Bytes with a correct checksum for any document (what a bug or a hand edit could produce). */
function bytesOf(doc: unknown): Uint8Array {
  const checksum = `crc32:${crc32(JSON.stringify(doc, null, 1))
    .toString(16)
    .padStart(8, '0')}`;
  return Buffer.from(JSON.stringify({ ...(doc as object), checksum }, null, 1));
}

function decodeEdited(edit: (m: any) => void): () => SnapshotMetadata {
  const m = sample() as any;
  edit(m);
  return () => decodeMetadata(bytesOf(m), WHERE);
}

describe('_metadata', () => {
  it('round-trips, as readable JSON with a checksum last', () => {
    const m = sample();
    const bytes = encodeMetadata(m);
    expect(decodeMetadata(bytes, WHERE)).toEqual(m);
    const text = Buffer.from(bytes).toString('utf8');
    expect(text).toMatch(/^{\n "format": "weir-snapshot",\n "version": 1,/);
    expect(text).toMatch(/ "checksum": "crc32:[0-9a-f]{8}"\n}\n$/);
    expect(decodeMetadata(bytesOf(m), WHERE)).toEqual(m);
  });

  it('round-trips a savepoint without operators', () => {
    const m = { ...sample(), kind: 'savepoint' as const, operators: [], extra: {} };
    expect(decodeMetadata(encodeMetadata(m), WHERE)).toEqual(m);
  });

  it('names the file and says what is wrong with its bytes', () => {
    const fail = (bytes: Uint8Array): string => {
      try {
        decodeMetadata(bytes, WHERE);
      } catch (e) {
        expect(e).toBeInstanceOf(CorruptMetadataError);
        expect((e as CorruptMetadataError).file).toBe(WHERE);
        return (e as Error).message;
      }
      throw new Error('decoded');
    };
    expect(fail(Buffer.alloc(0))).toBe(
      `${WHERE}: empty file (not a weir snapshot, or its write was cut short)`,
    );
    expect(fail(Buffer.from('{"format": "weir-snap'))).toBe(
      `${WHERE}: not valid JSON (damaged, or not a weir snapshot)`,
    );
    expect(fail(Buffer.from('[1,2]'))).toBe(`${WHERE}: the document must be an object`);
    expect(fail(Buffer.from('{"format":"flink"}'))).toBe(`${WHERE}: not a weir snapshot (format is "flink")`);
    expect(fail(bytesOf({ ...sample(), version: 4 }))).toBe(
      `${WHERE}: unsupported format version 4 (this weir reads versions 1, 2 and 3)`,
    );
    // A newer version is named even when its document looks nothing like this one.
    expect(fail(Buffer.from('{"format":"weir-snapshot","version":4,"whatever":true}'))).toBe(
      `${WHERE}: unsupported format version 4 (this weir reads versions 1, 2 and 3)`,
    );
    const good = Buffer.from(encodeMetadata(sample())).toString('utf8');
    expect(fail(Buffer.from(good.replace(/,\n "checksum": "[^"]+"/, '')))).toBe(
      `${WHERE}: no checksum (damaged, or not written by weir)`,
    );
    // A damaged digit that still parses.
    expect(fail(Buffer.from(good.replace('"entries": 123', '"entries": 124')))).toBe(
      `${WHERE}: checksum mismatch (the file is damaged or was edited)`,
    );
  });

  const invalid: Array<[string, (m: any) => void, string]> = [
    ['weirVersion', (m) => (m.weirVersion = 1), 'weirVersion must be a non-empty string'],
    ['kind', (m) => (m.kind = 'backup'), 'kind must be "checkpoint" or "savepoint"'],
    ['id', (m) => (m.id = -1), 'id must be an integer from 0 to 9007199254740991'],
    ['timestamp', (m) => (m.timestamp = '2024'), 'timestamp must be an integer'],
    ['jobId', (m) => (m.jobId = ''), 'jobId must be a non-empty string'],
    ['jobName', (m) => delete m.jobName, 'jobName must be a non-empty string'],
    ['extra', (m) => (m.extra = []), 'extra must be an object'],
    ['operators', (m) => (m.operators = {}), 'operators must be an array'],
    ['an operator', (m) => (m.operators[1] = 'x'), 'operators[1] must be an object'],
    [
      'operatorId',
      (m) => (m.operators[1].operatorId = 'ABC'),
      'operators[1].operatorId must be 32 lowercase hex digits',
    ],
    [
      'a repeated operatorId',
      (m) => (m.operators[1].operatorId = OP_A),
      `operators[1].operatorId ${OP_A} appears twice`,
    ],
    ['uid', (m) => (m.operators[0].uid = ''), 'operators[0].uid must be a non-empty string'],
    ['name', (m) => (m.operators[0].name = null), 'operators[0].name must be a non-empty string'],
    ['parallelism', (m) => (m.operators[1].parallelism = 0), 'operators[1].parallelism must be at least 1'],
    [
      'parallelism type',
      (m) => (m.operators[1].parallelism = 1.5),
      'operators[1].parallelism must be an integer',
    ],
    [
      'maxParallelism',
      (m) => (m.operators[1].maxParallelism = 40000),
      'operators[1].maxParallelism must be between 1 and 32768',
    ],
    ['subtasks', (m) => (m.operators[1].subtasks = null), 'operators[1].subtasks must be an array'],
    [
      'subtask index',
      (m) => (m.operators[1].subtasks[1].index = 2),
      'operators[1].subtasks[1].index 2 is not below the parallelism 2',
    ],
    [
      'a repeated subtask',
      (m) => (m.operators[1].subtasks[1].index = 0),
      'operators[1].subtasks[1].index 0 appears twice',
    ],
    [
      'keyGroups shape',
      (m) => (m.operators[1].subtasks[0].keyGroups = [0]),
      'operators[1].subtasks[0].keyGroups must be [first, last] or null',
    ],
    [
      'keyGroups range',
      (m) => (m.operators[1].subtasks[1].keyGroups = [64, 128]),
      'operators[1].subtasks[1].keyGroups [64, 128] is not a range within 0..127',
    ],
    [
      'keyed without keyGroups',
      (m) => (m.operators[1].subtasks[0].keyGroups = null),
      'operators[1].subtasks[0] has keyed state but no keyGroups',
    ],
    [
      'a section outside keyGroups',
      (m) => (m.operators[1].subtasks[0].keyGroups = [1, 63]),
      'operators[1].subtasks[0].keyed has a section for key group 0, outside its keyGroups [1, 63]',
    ],
    [
      'a missing handle',
      (m) => delete m.operators[1].subtasks[0].timers,
      'operators[1].subtasks[0].timers is missing (null when there is no such state)',
    ],
    [
      'a handle',
      (m) => (m.operators[1].subtasks[0].keyed = 'file'),
      'operators[1].subtasks[0].keyed must be an object',
    ],
    [
      'an absolute path',
      (m) => (m.operators[1].subtasks[0].keyed.path = '/ckpt/x.state'),
      'operators[1].subtasks[0].keyed.path is not a relative path',
    ],
    [
      'a path with ..',
      (m) => (m.operators[1].subtasks[0].keyed.path = '../chk-6/x.state'),
      'operators[1].subtasks[0].keyed.path is not a relative path',
    ],
    [
      'a path with .. inside',
      (m) => (m.operators[0].subtasks[0].operator.path = 'a/../../x'),
      'operators[0].subtasks[0].operator.path is not a relative path',
    ],
    [
      'a Windows path',
      (m) => (m.operators[1].subtasks[1].sink.path = 'C:\\ckpt\\x.state'),
      'operators[1].subtasks[1].sink.path is not a relative path',
    ],
    [
      'a URL',
      (m) => (m.operators[1].subtasks[0].timers.path = 's3://bucket/x.state'),
      'operators[1].subtasks[0].timers.path is not a relative path',
    ],
    [
      'an empty path',
      (m) => (m.operators[1].subtasks[0].timers.path = ''),
      'operators[1].subtasks[0].timers.path must be a non-empty string',
    ],
    [
      'size',
      (m) => (m.operators[1].subtasks[0].keyed.size = -5),
      'operators[1].subtasks[0].keyed.size must be an integer',
    ],
    [
      'crc32',
      (m) => (m.operators[1].subtasks[0].keyed.crc32 = 2 ** 32),
      'operators[1].subtasks[0].keyed.crc32 must be an integer from 0 to 4294967295',
    ],
    [
      'sections',
      (m) => (m.operators[1].subtasks[0].keyed.sections = {}),
      'operators[1].subtasks[0].keyed.sections must be an array',
    ],
    [
      'a section',
      (m) => (m.operators[1].subtasks[0].keyed.sections[1] = [17, 112, 1000]),
      'operators[1].subtasks[0].keyed.sections[1] must be [id, offset, length, crc32]',
    ],
    [
      'a section field',
      (m) => (m.operators[1].subtasks[0].keyed.sections[1][2] = '1000'),
      'operators[1].subtasks[0].keyed.sections[1][2] (length) must be an integer',
    ],
    [
      'section order',
      (m) => (m.operators[1].subtasks[0].keyed.sections[1][0] = 0),
      'operators[1].subtasks[0].keyed.sections[1]: section ids must increase (0 after 0)',
    ],
    [
      'a section past the end',
      (m) => (m.operators[1].subtasks[0].keyed.sections[1][2] = 1200),
      'operators[1].subtasks[0].keyed.sections[1]: bytes 112..1312 are not inside the file of 1234 bytes',
    ],
    [
      'a section in the header',
      (m) => (m.operators[1].subtasks[0].keyed.sections[0][1] = 4),
      'operators[1].subtasks[0].keyed.sections[0]: bytes 4..104 are not inside the file',
    ],
    [
      'states',
      (m) => (m.operators[1].subtasks[1].states = null),
      'operators[1].subtasks[1].states must be an array',
    ],
    [
      'a state name',
      (m) => (m.operators[1].subtasks[0].states[0].name = 3),
      'operators[1].subtasks[0].states[0].name must be a non-empty string',
    ],
    [
      'a state kind',
      (m) => (m.operators[1].subtasks[0].states[0].kind = ''),
      'operators[1].subtasks[0].states[0].kind must be a non-empty string',
    ],
    [
      'a state scope',
      (m) => (m.operators[1].subtasks[0].states[0].scope = 'global'),
      'operators[1].subtasks[0].states[0].scope must be "keyed" or "operator"',
    ],
    [
      'a state mode',
      (m) => (m.operators[0].subtasks[0].states[0].mode = 'round-robin'),
      'operators[0].subtasks[0].states[0].mode must be "split", "union" or "broadcast" when given',
    ],
    [
      'a state serializer',
      (m) => (m.operators[1].subtasks[0].states[0].serializer = ''),
      'operators[1].subtasks[0].states[0].serializer must be a non-empty string',
    ],
    [
      'a state version',
      (m) => (m.operators[1].subtasks[0].states[0].version = 0),
      'operators[1].subtasks[0].states[0].version must be at least 1',
    ],
    [
      'entries',
      (m) => (m.operators[1].subtasks[0].states[0].entries = null),
      'operators[1].subtasks[0].states[0].entries must be an integer',
    ],
  ];
  for (const [what, edit, message] of invalid) {
    it(`rejects a bad ${what}, naming the file and the field`, () => {
      expect(decodeEdited(edit)).toThrow(CorruptMetadataError);
      expect(decodeEdited(edit)).toThrow(`${WHERE}: ${message}`);
    });
  }

  it('refuses to write a document it could not read back', () => {
    const m = sample();
    m.operators[1]!.subtasks[0]!.keyed!.path = '/abs/x.state';
    expect(() => encodeMetadata(m)).toThrow(
      /^internal: cannot write _metadata: operators\[1\]\.subtasks\[0\]\.keyed\.path is not a relative path/,
    );
  });

  it('ignores a checksum field given to encode and writes its own', () => {
    const m = { ...sample(), checksum: 'crc32:00000000' } as SnapshotMetadata;
    expect(decodeMetadata(encodeMetadata(m), WHERE)).toEqual(sample());
  });
});
