/** Concurrency limits: a counting semaphore, and one semaphore per key (mailbox). */

/** A counting semaphore; waiters are served in arrival order, each taking all its permits at once. */
export class Semaphore {
  readonly #waiters: { count: number; resolve: () => void }[] = [];
  #available: number;

  constructor(permits: number) {
    this.#available = permits;
  }

  /**
   * Waits until `count` permits are free and takes them together; returns the function that
   * gives them back. Taking them together keeps two callers from each holding part of what
   * the other needs.
   */
  async acquire(count = 1): Promise<() => void> {
    if (this.#waiters.length === 0 && this.#available >= count) {
      this.#available -= count;
    } else {
      await new Promise<void>((resolve) => this.#waiters.push({ count, resolve }));
    }

    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#available += count;
      this.#wakeWaiters();
    };
  }

  /** Runs `task` while holding a permit. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await task();
    } finally {
      release();
    }
  }

  #wakeWaiters(): void {
    for (let next = this.#waiters[0]; next && next.count <= this.#available; next = this.#waiters[0]) {
      this.#waiters.shift();
      this.#available -= next.count;
      next.resolve();
    }
  }
}

/** One {@link Semaphore} per key, e.g. at most 4 in-flight requests per mailbox. */
export class KeyedSemaphore {
  readonly #permits: number;
  readonly #semaphores = new Map<string, Semaphore>();

  constructor(permits: number) {
    this.#permits = permits;
  }

  /**
   * Takes `count` permits (at most the limit) of each key and returns the function that gives
   * them all back. Keys are taken in sorted order, so two callers cannot deadlock.
   */
  async acquire(counts: ReadonlyMap<string, number>): Promise<() => void> {
    const releases: (() => void)[] = [];
    for (const key of [...counts.keys()].sort()) {
      releases.push(await this.#semaphore(key).acquire(Math.min(counts.get(key)!, this.#permits)));
    }
    return () => releases.forEach((release) => release());
  }

  #semaphore(key: string): Semaphore {
    let semaphore = this.#semaphores.get(key);
    if (!semaphore) {
      semaphore = new Semaphore(this.#permits);
      this.#semaphores.set(key, semaphore);
    }
    return semaphore;
  }
}
