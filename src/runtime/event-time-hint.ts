/**
 * How to give records event timestamps, for the messages of operators that need event time and
 * got a record without one. Flink users look for assignTimestampsAndWatermarks, which weir does
 * not have: say so.
 */
export const EVENT_TIME_HINT =
  'read them with env.fromSource(source, WatermarkStrategy.forBoundedOutOfOrderness(ms).withTimestampAssigner((r) => r.time), name) ' +
  '(records of fromElements: new CollectionSource([...]) as the source); weir assigns timestamps at sources only, it has no assignTimestampsAndWatermarks';
