// IRQ lines and who owns them. A driver claims a line with irqctl setpolicy (if the
// privilege table grants it); an interrupt then becomes a notification to the owner.
// Without IRQ_REENABLE the line stays masked after each interrupt until re-enabled.
import { IRQ_REENABLE, MkError } from "#abi";

interface Line {
  owner?: string; // label
  policy: number;
  enabled: boolean;
}

export class IrqTable {
  private readonly lines: Line[] = Array.from({ length: 16 }, () => ({ policy: 0, enabled: false }));

  setPolicy(irq: number, owner: string, policy: number): void {
    const l = this.lines[irq];
    if (l.owner && l.owner !== owner) throw new MkError("EBUSY", `IRQ ${irq} is owned by ${l.owner}`);
    l.owner = owner;
    l.policy = policy;
    l.enabled = true;
  }

  rmPolicy(irq: number, owner: string): void {
    this.owned(irq, owner);
    this.lines[irq] = { policy: 0, enabled: false };
  }

  setEnabled(irq: number, owner: string, enabled: boolean): void {
    this.owned(irq, owner).enabled = enabled;
  }

  /** Drops every line a dead service held, so its successor can claim them. */
  release(owner: string): void {
    for (let i = 0; i < 16; i++) if (this.lines[i].owner === owner) this.lines[i] = { policy: 0, enabled: false };
  }

  /** An interrupt arrived: the owner to notify, or undefined when unowned or masked. */
  raise(irq: number): string | undefined {
    const l = this.lines[irq];
    if (!l?.owner || !l.enabled) return undefined;
    if (!(l.policy & IRQ_REENABLE)) l.enabled = false;
    return l.owner;
  }

  owner(irq: number): string | undefined {
    return this.lines[irq]?.owner;
  }

  private owned(irq: number, owner: string): Line {
    const l = this.lines[irq];
    if (l.owner !== owner) throw new MkError("EPERM", `IRQ ${irq} has no policy set by ${owner}`);
    return l;
  }
}
