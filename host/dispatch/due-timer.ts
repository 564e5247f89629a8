/**
 * A timer that never fires before its wall-clock time. Node's setTimeout counts from the event loop's cached,
 * millisecond-rounded clock, so a callback can run a millisecond before `Date.now()` reaches the time it was armed for
 * (seen: a retry started 1 ms before its notBefore, a MANUAL job 1 ms before its startAt, on a loaded machine). A run
 * row's startedAt must not precede its scheduledAt or notBefore (the run-row contract), so an early wake re-arms for
 * the rest.
 */
export class DueTimer {
  #timer: NodeJS.Timeout;

  constructor(
    private readonly atMs: number,
    private readonly onDue: () => void,
  ) {
    this.#timer = this.#arm();
  }

  cancel(): void {
    clearTimeout(this.#timer);
  }

  #arm(): NodeJS.Timeout {
    return setTimeout(() => {
      if (Date.now() < this.atMs) this.#timer = this.#arm();
      else this.onDue();
    }, Math.max(0, this.atMs - Date.now()));
  }
}
