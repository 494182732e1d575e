/**
 * Restored state cannot become the state a descriptor declares: no migration from its schema
 * version, a newer version than the job knows, or another serializer. Restarting cannot help,
 * so the job fails at once (exit code 2): the user changes the descriptor or the snapshot.
 */
export class StateMigrationError extends Error {
  override readonly name = 'StateMigrationError';
}
