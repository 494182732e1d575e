// What a job's own error means in weir, where the bare message would leave its author guessing:
// Flink users write Flink's names first ("x is not a function"), and a function's #private
// fields are not copied to its subtasks.

const WEIR_NAMES: Readonly<Record<string, string>> = {
  addSource: 'env.fromSource(source, name) (or fromSource(source, watermarkStrategy, name))',
  addSink: 'stream.sinkTo(sink)',
  writeAsText: 'stream.sinkTo(new FileSink(folder))',
  writeAsCsv: 'stream.sinkTo(new FileSink(folder)) with records made into lines',
  getExecutionEnvironment:
    'the env that build(env, args) is given (in a program of your own: new StreamExecutionEnvironment())',
  timeWindow: 'window(TumblingEventTimeWindows.of(ms)) or window(TumblingProcessingTimeWindows.of(ms))',
  assignTimestampsAndWatermarks:
    'timestamps and watermarks are assigned at the source: env.fromSource(source, WatermarkStrategy…withTimestampAssigner(…), name)',
  slotSharingGroup: 'nothing: weir has no task slots, drop the call',
  getRuntimeContext:
    'the RuntimeContext that open(ctx) is given (a weir function is not a Rich…Function subclass)',
  timerService: 'ctx.timerService, a property in weir (ctx.timerService.registerEventTimeTimer(t))',
  setStreamTimeCharacteristic:
    'nothing: event time is used wherever a WatermarkStrategy gives timestamps, drop the call',
};

/** `message` with what it means in weir added, when it is one of the cases above; else as it is. */
export function explainJobError(message: string): string {
  if (/Cannot (read|write) private member #\w+/.test(message))
    return `${message} (weir gives each subtask a copy of a function object, without its #private fields: use ordinary fields)`;
  const name = /(?:^|[.\s])(\w+) is not a function\b/.exec(message)?.[1];
  const weir = name === undefined ? undefined : WEIR_NAMES[name];
  return weir === undefined ? message : `${message} (Flink's ${name}; in weir: ${weir})`;
}
