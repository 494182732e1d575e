// Attributes an error thrown by user code to the operator and subtask it happened in.

export class OperatorFailure extends Error {
  override readonly name = 'OperatorFailure';
  constructor(
    readonly operatorName: string,
    readonly uid: string | undefined,
    readonly subtaskIndex: number,
    readonly parallelism: number,
    readonly phase: string,
    override readonly cause: unknown,
  ) {
    const uidPart = uid === undefined ? '' : ` (uid '${uid}')`;
    super(
      `operator '${operatorName}'${uidPart}, subtask ${subtaskIndex + 1}/${parallelism}, failed in ${phase}: ${describeError(cause)}`,
    );
  }
}

export function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.name === 'Error' ? '' : e.name + ': '}${e.message}`;
  return String(e);
}

export interface OperatorIdentity {
  readonly name: string;
  readonly uid: string | undefined;
  readonly subtaskIndex: number;
  readonly parallelism: number;
}

/** Wraps `e` for `op`, unless an operator further down the chain already claimed it. */
export function attribute(e: unknown, op: OperatorIdentity, phase: string): OperatorFailure {
  if (e instanceof OperatorFailure) return e;
  return new OperatorFailure(op.name, op.uid, op.subtaskIndex, op.parallelism, phase, e);
}
