import { describe, expect, it } from 'vitest';
import { ListStateDescriptor, MapStateDescriptor, ValueStateDescriptor } from '../../src/index.js';

describe('state descriptors', () => {
  it('default to schema version 1 and weir-cbor', () => {
    const d = new ValueStateDescriptor<number>('count');
    expect(d.version).toBe(1);
    expect(d.serializer).toBeUndefined();
    expect(d.migrate).toBeUndefined();
  });

  it('refuse a bad version, migrate or serializer with a message naming the state', () => {
    expect(() => new ValueStateDescriptor('c', { version: 0 })).toThrow(
      "state 'c': version must be an integer of at least 1, got 0",
    );
    expect(() => new ListStateDescriptor('l', { version: 1.5 })).toThrow(
      /state 'l': version must be an integer/,
    );
    expect(() => new ListStateDescriptor('l', { migrate: 3 as never })).toThrow(
      /state 'l': migrate must be a function/,
    );
    expect(
      () =>
        new MapStateDescriptor('m', {
          serializer: { id: '', serialize: () => new Uint8Array(), deserialize: () => 1 },
        }),
    ).toThrow(/state 'm': a serializer needs a non-empty id/);
    expect(
      () =>
        new MapStateDescriptor('m', {
          serializer: { id: 'weir-cbor', serialize: () => new Uint8Array(), deserialize: () => 1 },
        }),
    ).toThrow(/'weir-cbor' is weir's own codec/);
  });

  it("refuse a type where the options go (Flink's ValueStateDescriptor(name, Types.INT))", () => {
    expect(() => new ValueStateDescriptor('c', Number as never)).toThrow(
      "state 'c': the argument after the name is options ({ defaultValue, version, migrate, serializer }), got a function (Number); weir's state needs no type, leave it out",
    );
    expect(() => new ListStateDescriptor('l', 'int' as never)).toThrow(/state 'l': .* got int;/);
    expect(() => new MapStateDescriptor('m', null as never)).toThrow(/state 'm': .* got null;/);
  });
});
