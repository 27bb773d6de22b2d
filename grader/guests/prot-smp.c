/* SPDX-License-Identifier: MIT */
/*
 * prot-smp: several vCPUs (run with --cpus 2..4). Every vCPU enters at the
 * image entry with its own index in EDI, prints "cpu N up" under a spinlock
 * (lock xchg), marks its index in a shared bitmap and increments a shared
 * counter with lock xadd. vCPU 0 waits, bounded, until all ESI vCPUs have
 * checked in, reports, and ends the VM; the others park in cli; hlt.
 */
#include "rt.h"

#define WAIT_ROUNDS 500000 /* each round is a port read: >= 0.5 s on any host */

static spinlock_t print_lock;
static volatile uint32_t cpus_up, cpu_bitmap, begun;

static void check_in(uint32_t cpu)
{
	spin_lock(&print_lock);
	printf("cpu %u up\n", cpu);
	cpu_bitmap |= 1u << cpu; /* under the lock: a plain read-modify-write is safe */
	spin_unlock(&print_lock);
	atomic_inc(&cpus_up);
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	if (cpu != 0) {
		/* Let vCPU 0 print the begin line first (bounded: print anyway). */
		for (unsigned i = 0; i < WAIT_ROUNDS && !begun; i++)
			pause();
		check_in(cpu);
		halt_forever();
	}

	spin_lock(&print_lock);
	begin(GUEST_NAME);
	begun = 1;
	spin_unlock(&print_lock);
	check_in(0);

	unsigned rounds = 0;
	while (cpus_up < ncpus && rounds < WAIT_ROUNDS) {
		(void)inl(ABI_TESTDEV_PORT + ABI_TESTDEV_ID);
		rounds++;
	}

	spin_lock(&print_lock);
	report(ncpus >= 2 && ncpus <= 8, "cpu-count", "ESI says %u vCPUs, want 2..8 (run with --cpus 2..4)", ncpus);
	report(cpus_up == ncpus, "all-cpus-up", "%u of %u vCPUs checked in", cpus_up, ncpus);
	uint32_t want = ncpus >= 32 ? ~0u : (1u << ncpus) - 1;
	report(cpu_bitmap == want, "cpu-indexes-distinct", "indexes seen 0x%x, want 0x%x", cpu_bitmap, want);
	end();
}
