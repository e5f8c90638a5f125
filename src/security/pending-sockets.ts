// WebSockets per client address that have not authenticated yet: from the upgrade until their connection_init is
// accepted (graphql-ws closes one that sends none within 3 s). Such a socket costs memory and a file descriptor
// without any key to account it to, so an address may hold only a few. Counted in this process: they are live
// sockets of this process, and a count in Redis would outlive a process that dies holding some.
export class PendingSockets {
  private readonly byAddress = new Map<string, number>();

  constructor(private readonly maxPerAddress: number) {}

  /** Counts one more socket of `address`; its release (callable any number of times), or null when at the cap. */
  admit(address: string): (() => void) | null {
    const held = this.byAddress.get(address) ?? 0;
    if (held >= this.maxPerAddress) return null;
    this.byAddress.set(address, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.byAddress.get(address) ?? 1) - 1;
      if (left > 0) this.byAddress.set(address, left);
      else this.byAddress.delete(address);
    };
  }

  heldBy(address: string): number {
    return this.byAddress.get(address) ?? 0;
  }
}
