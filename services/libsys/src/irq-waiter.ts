// Waiting for an interrupt with a deadline, on the injected clock. A driver arms it
// before it polls the status register, so an IRQ that arrives in between is not lost.
import type { Clock } from "#base/clock.ts";

export class IrqWaiter {
  private readonly clock: Clock;
  private waiting?: () => void;
  private seen = 0;

  constructor(clock: Clock) {
    this.clock = clock;
  }

  /** Called from the notify handler. */
  fire(): void {
    this.seen++;
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  /** Forgets interrupts that arrived before now. */
  arm(): void {
    this.seen = 0;
  }

  /** Resolves at the next interrupt (or one since arm()), or after ms with false. */
  wait(ms: number): Promise<boolean> {
    if (this.seen > 0) {
      this.seen = 0;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => {
        this.waiting = undefined;
        resolve(false);
      }, ms);
      this.waiting = () => {
        timer.cancel();
        this.seen = 0;
        resolve(true);
      };
    });
  }
}
