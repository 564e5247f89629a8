/**
 * The gate every write of the store passes through. On SQLite it is an async mutex (one writer at a time, in
 * arrival order); on MySQL it lets everything through and the server does the locking.
 */
export type WriteGate = <T>(write: () => Promise<T>) => Promise<T>;

export function createWriteGate(serialised: boolean): WriteGate {
  if (!serialised) return (write) => write();
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(write: () => Promise<T>): Promise<T> => {
    const result = tail.then(write);
    // The chain must survive a failed write, or one error would block every later one.
    tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  };
}
