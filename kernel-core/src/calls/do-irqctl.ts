// SYS_IRQCTL: set or remove the caller's policy on an IRQ line, enable or disable it.
// The line must be in the caller's irq privileges.
import { DenialKind, IRQ_REENABLE, MkError, type SysCall } from "#abi";
import type { KernelCall } from "./context.ts";

export const doIrqctl: KernelCall<typeof SysCall.SYS_IRQCTL, "deny" | "irqs"> = (k, c) => {
  const { request, irq, policy } = c.args;
  if (!c.privileges.irq.includes(irq)) {
    k.deny({
      label: c.label,
      entry: c.caller,
      call: "irqctl",
      denied: DenialKind.IRQ,
      target: String(irq),
      errno: "EPERM",
      fields: { reqId: c.reqId },
      message: `irqctl: IRQ ${irq} not allowed for ${c.label}`,
    });
    throw new MkError("EPERM", `irqctl: IRQ ${irq} not allowed for ${c.label}`, { detail: { arg: "irqctl", irq, label: c.label } });
  }
  switch (request) {
    case "setpolicy":
      if (policy !== undefined && (policy & ~IRQ_REENABLE) !== 0)
        throw new MkError("EINVAL", `irqctl: unknown policy bits 0x${policy.toString(16)}`);
      k.irqs.setPolicy(irq, c.label, policy ?? 0);
      break;
    case "rmpolicy":
      k.irqs.rmPolicy(irq, c.label);
      break;
    case "enable":
      k.irqs.setEnabled(irq, c.label, true);
      break;
    case "disable":
      k.irqs.setEnabled(irq, c.label, false);
      break;
  }
  return {};
};
