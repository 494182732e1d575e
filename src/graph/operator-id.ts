// Operator ids are what state is stored under (ARCHITECTURE.md §1): a hash of the uid, stable
// across versions of a job, or — without a uid — of the operator's place in the graph.
import { createHash } from 'node:crypto';

export type OperatorId = string & { readonly __brand: 'OperatorId' };

export function operatorIdFromUid(uid: string): OperatorId {
  return hash(`uid:${uid}`);
}

export function generatedOperatorId(index: number, inputIds: readonly OperatorId[]): OperatorId {
  return hash(`auto:${index}:${inputIds.join(',')}`);
}

function hash(s: string): OperatorId {
  return createHash('sha256').update(s).digest('hex').slice(0, 32) as OperatorId;
}
