// Names a side output: a second stream of another type that an operator emits beside its main
// output (late records of a window, errors split off by a process function).

/**
 * The name and type of a side output. Equal ids are the same output, so a tag may be created
 * again where the stream is read.
 * @example
 * const late = new OutputTag<Event>('late-events');
 * const counts = keyed.window(TumblingEventTimeWindows.of(60_000)).sideOutputLateData(late).aggregate(count);
 * counts.getSideOutput(late).sinkTo(lateSink);
 */
export class OutputTag<T> {
  /** Never set: carries the record type for the compiler. */
  declare readonly __type?: T;

  constructor(readonly id: string) {
    if (typeof id !== 'string' || id.length === 0)
      throw new TypeError('new OutputTag(id) needs a non-empty string id');
  }
}
