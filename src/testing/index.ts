// weir/testing: harnesses that drive one operator without running a job. Everything not exported
// here is internal.

export {
  OperatorTestHarness,
  KeyedOperatorTestHarness,
  HarnessLifecycleError,
  KeyNotOwnedError,
  type HarnessOptions,
  type HarnessPhase,
  type WindowHarnessOptions,
} from './harness.js';
export { stateForSubtask } from './subtask-state.js';
export type { OperatorSubtaskState } from '../runtime/stream-operator.js';
export type {
  KeyedStateSnapshot,
  KeyGroupEntries,
  OperatorStateSnapshot,
  OperatorStateMode,
} from '../state/snapshot.js';
