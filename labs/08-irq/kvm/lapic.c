// SPDX-License-Identifier: MIT
/*
 * The local APIC of each vCPU, in xAPIC mode (Linux: arch/x86/kvm/lapic.c;
 * SDM Vol. 3A chapter 11).
 *
 * The guest sees a 4 KiB register page at IA32_APIC_BASE; minikvm keeps it
 * as it would read, in apic->regs, each 32-bit register at its offset
 * (apicdef.h). Most registers are plain storage; the ones that act are:
 *
 *   IRR, ISR, TMR   256-bit arrays, 8 registers of 32 bits 0x10 apart: a
 *                   vector v is bit v % 32 of register v / 32. An accepted
 *                   fixed interrupt sets its IRR bit (and its TMR bit if
 *                   level-triggered); the INTA cycle (kvm_get_apic_interrupt)
 *                   moves the highest deliverable one to ISR; EOI clears the
 *                   highest ISR bit.
 *   TPR, PPR        a vector's priority class is its bits 7:4. PPR is the
 *                   higher of TPR and the class of the highest vector in
 *                   service (11.8.3.1); only an IRR vector whose class is
 *                   above PPR's is delivered (11.8.4).
 *   ICR             writing its low half sends an IPI: fixed, NMI, INIT,
 *                   SIPI, to a destination or a shorthand (11.6).
 *   LVT timer       counts down from TMICT at the bus clock divided by
 *                   TDCR, once or periodically, or fires at a guest TSC
 *                   value (TSC-deadline mode, 11.5.4).
 *
 * The timer runs on host_clock_ns(): it is a target time the run loop
 * compares with the clock (kvm_lapic_check_timer before each entry,
 * kvm_lapic_next_event_ns for how long a halted vCPU may sleep), not a host
 * timer interrupt. The APIC bus runs at 1 GHz here, one bus cycle per
 * nanosecond, as Linux's KVM (APIC_BUS_CYCLE_NS 1): a guest measures the
 * timer's rate against another clock, never assumes it.
 *
 * Not modelled: x2APIC, the error register's bits (ESR reads 0), the
 * CMCI, thermal and performance LVTs' sources (their registers are kept),
 * SMI, focus processors, arbitration priority (ARBPRI reads 0), APICv.
 */
#include <errno.h>
#include <string.h>

#include <x86/apicdef.h>
#include "kvmlabs/host_kernel.h"
#include "kvmlabs/lab.h"
#include "ioapic.h"
#include "irq.h"
#include "lapic.h"
#include "x86.h"

#define LAPIC_MMIO_LENGTH    4096
#define APIC_VERSION         0x14     /* integrated xAPIC (11.4.8) */
#define KVM_APIC_LVT_NUM     6        /* timer, thermal, PMC, LINT0, LINT1, error */
#define APIC_BUS_CYCLE_NS    1        /* a 1 GHz APIC bus, as Linux's KVM */
/* A periodic timer faster than this would keep the vCPU in interrupt
 * delivery alone; Linux's KVM has the same floor (min_timer_period_us). */
#define APIC_MIN_PERIOD_NS   200000ull
/* IA32_APIC_BASE[51:12] (SDM Vol. 3A 11.4.4, figure 11-5). */
#define APIC_BASE_ADDR_MASK  0x000ffffffffff000ull

/* LVT bits the guest may write (11.5.1 figure 11-8): the delivery status and,
 * but for LINT0/1, remote IRR, trigger and polarity are read-only or absent. */
#define LVT_MASK   (APIC_LVT_MASKED | APIC_VECTOR_MASK)
#define LINT_MASK  (LVT_MASK | APIC_MODE_MASK | APIC_INPUT_POLARITY | APIC_LVT_LEVEL_TRIGGER)

static const uint32_t apic_lvt_mask[KVM_APIC_LVT_NUM] = {
	LVT_MASK,                     /* LVTT; its timer mode is added by timer_mode_mask */
	LVT_MASK | APIC_MODE_MASK,    /* LVTTHMR */
	LVT_MASK | APIC_MODE_MASK,    /* LVTPC */
	LINT_MASK,                    /* LVT0 */
	LINT_MASK,                    /* LVT1 */
	LVT_MASK,                     /* LVTERR */
};

/* ---- the register page ------------------------------------------------------ */

static inline uint32_t kvm_lapic_get_reg(const struct kvm_lapic *apic, unsigned int reg)
{
	uint32_t v;
	memcpy(&v, apic->regs + reg, sizeof(v));
	return v;
}

static inline void kvm_lapic_set_reg(struct kvm_lapic *apic, unsigned int reg, uint32_t val)
{
	memcpy(apic->regs + reg, &val, sizeof(val));
}

/* Vector v in a 256-bit array at base (IRR, ISR or TMR): register v / 32,
 * 0x10 apart, bit v % 32 (SDM 11.8.4 figure 11-20). */
#define VEC_POS(v) ((v) & 31)
#define REG_POS(v) (((v) >> 5) << 4)

static inline bool apic_test_vector(const struct kvm_lapic *apic, unsigned int base, int vec)
{
	return (kvm_lapic_get_reg(apic, base + REG_POS(vec)) >> VEC_POS(vec)) & 1;
}

static inline void apic_set_vector(struct kvm_lapic *apic, unsigned int base, int vec)
{
	unsigned int reg = base + REG_POS(vec);
	kvm_lapic_set_reg(apic, reg, kvm_lapic_get_reg(apic, reg) | (1u << VEC_POS(vec)));
}

static inline void apic_clear_vector(struct kvm_lapic *apic, unsigned int base, int vec)
{
	unsigned int reg = base + REG_POS(vec);
	kvm_lapic_set_reg(apic, reg, kvm_lapic_get_reg(apic, reg) & ~(1u << VEC_POS(vec)));
}

/* The highest vector set in the array at base, or -1 (Linux: find_highest_vector). */
static int apic_find_highest_vector(const struct kvm_lapic *apic, unsigned int base)
{
	for (int i = 7; i >= 0; i--) {
		uint32_t bits = kvm_lapic_get_reg(apic, base + (unsigned int)i * 0x10);
		if (bits)
			return i * 32 + 31 - __builtin_clz(bits);
	}
	return -1;
}

static int apic_find_highest_irr(struct kvm_lapic *apic)
{
	if (!apic->irr_pending)
		return -1;
	int vec = apic_find_highest_vector(apic, APIC_IRR);
	if (vec < 0)
		apic->irr_pending = false;
	return vec;
}

/* ISR changes only at INTA and EOI: isr_count and highest_isr_cache spare
 * the scan in between. An INTA always puts in service a vector above every
 * one already there (its class beats PPR), so it becomes the highest. */
static int apic_find_highest_isr(struct kvm_lapic *apic)
{
	if (!apic->isr_count)
		return -1;
	if (apic->highest_isr_cache != -1)
		return apic->highest_isr_cache;
	return apic_find_highest_vector(apic, APIC_ISR);
}

static void apic_set_irr(struct kvm_lapic *apic, int vec)
{
	apic_set_vector(apic, APIC_IRR, vec);
	apic->irr_pending = true;
}

static void apic_clear_irr(struct kvm_lapic *apic, int vec)
{
	apic_clear_vector(apic, APIC_IRR, vec);
	apic->irr_pending = apic_find_highest_vector(apic, APIC_IRR) != -1;
}

static void apic_set_isr(struct kvm_lapic *apic, int vec)
{
	if (!apic_test_vector(apic, APIC_ISR, vec))
		apic->isr_count++;
	apic_set_vector(apic, APIC_ISR, vec);
	apic->highest_isr_cache = vec;
}

static void apic_clear_isr(struct kvm_lapic *apic, int vec)
{
	if (apic_test_vector(apic, APIC_ISR, vec))
		apic->isr_count--;
	apic_clear_vector(apic, APIC_ISR, vec);
	apic->highest_isr_cache = -1;
}

/* IA32_APIC_BASE.EN: the global enable (11.4.3). */
static bool kvm_apic_hw_enabled(const struct kvm_lapic *apic)
{
	return apic->vcpu->arch.apic_base & MSR_IA32_APICBASE_ENABLE;
}

/* Both enables: a LAPIC takes fixed interrupts only then (11.4.7.2). */
static bool apic_enabled(const struct kvm_lapic *apic)
{
	return kvm_apic_hw_enabled(apic) && apic->sw_enabled;
}

static bool kvm_vcpu_is_bsp(struct kvm_vcpu *vcpu)
{
	return vcpu->arch.apic_base & MSR_IA32_APICBASE_BSP;
}

static uint32_t kvm_xapic_id(const struct kvm_lapic *apic)
{
	return kvm_lapic_get_reg(apic, APIC_ID) >> 24;
}

static bool apic_lvtt_period(const struct kvm_lapic *apic)
{
	return apic->lapic_timer.timer_mode == APIC_LVT_TIMER_PERIODIC;
}

static bool apic_lvtt_tscdeadline(const struct kvm_lapic *apic)
{
	return apic->lapic_timer.timer_mode == APIC_LVT_TIMER_TSCDEADLINE;
}

// @lab 08 lapic_helpers: Your own static helpers for lapic.c.
/* your helpers */
// @end

/* ---- priorities (SDM 11.8.3) ---------------------------------------------------- */

/* PPR from TPR and the highest vector in service (Linux: apic_update_ppr). */
static void apic_update_ppr(struct kvm_lapic *apic)
{
	// @lab 08 apic_update_ppr: PPR = TPR if TPR[7:4] >= the class of the highest ISR vector, else that class with bits 3:0 clear (SDM 11.8.3.1).
	(void)apic;
	lab_todo(8, "apic_update_ppr");
	// @end
}

/* The IRR vector the processor would take now, or -1 (Linux:
 * apic_has_interrupt_for_ppr). */
static int apic_has_interrupt_for_ppr(struct kvm_lapic *apic, uint32_t ppr)
{
	// @lab 08 apic_has_interrupt_for_ppr: The highest IRR vector if its class (bits 7:4) is above PPR's, else -1 (SDM 11.8.4).
	(void)apic, (void)ppr;
	lab_todo(8, "apic_has_interrupt_for_ppr");
	// @end
}

static void apic_set_tpr(struct kvm_lapic *apic, uint32_t tpr)
{
	kvm_lapic_set_reg(apic, APIC_TASKPRI, tpr & APIC_TPRI_MASK);
	apic_update_ppr(apic);
	/* A lower TPR may let a waiting interrupt through. */
	kvm_make_request(KVM_REQ_EVENT, apic->vcpu);
}

int kvm_apic_has_interrupt(struct kvm_vcpu *vcpu)
{
	struct kvm_lapic *apic = vcpu->arch.apic;
	/* Held IRR bits stay deliverable while software-disabled (11.4.7.2). */
	if (!apic || !kvm_apic_hw_enabled(apic))
		return -1;
	apic_update_ppr(apic);
	return apic_has_interrupt_for_ppr(apic, kvm_lapic_get_reg(apic, APIC_PROCPRI));
}

int kvm_get_apic_interrupt(struct kvm_vcpu *vcpu)
{
	int vec = kvm_apic_has_interrupt(vcpu);
	if (vec < 0)
		return -1;
	/* INTA: the vector leaves IRR and is in service until its EOI (11.8.4). */
	struct kvm_lapic *apic = vcpu->arch.apic;
	apic_clear_irr(apic, vec);
	apic_set_isr(apic, vec);
	apic_update_ppr(apic);
	return vec;
}

/* EOI: the highest vector in service is done (Linux: apic_set_eoi). */
static void apic_set_eoi(struct kvm_lapic *apic)
{
	// @lab 08 apic_set_eoi: Clear the highest ISR bit (none: nothing to do), update PPR; a level-triggered vector (its TMR bit) is EOIed at the IOAPIC too (SDM 11.8.5).
	(void)apic;
	lab_todo(8, "apic_set_eoi");
	// @end
	/* A lower PPR may let a waiting interrupt through. */
	kvm_make_request(KVM_REQ_EVENT, apic->vcpu);
}

void kvm_lapic_set_tpr(struct kvm_vcpu *vcpu, uint64_t cr8)
{
	/* MOV to CR8 writes TPR[7:4] and clears TPR[3:0] (SDM 11.8.6.1). */
	if (vcpu->arch.apic)
		apic_set_tpr(vcpu->arch.apic, (uint32_t)(cr8 & 0x0f) << 4);
}

uint64_t kvm_lapic_get_cr8(struct kvm_vcpu *vcpu)
{
	if (!vcpu->arch.apic)
		return 0;
	return (kvm_lapic_get_reg(vcpu->arch.apic, APIC_TASKPRI) >> 4) & 0x0f;
}

/* ---- accepting an interrupt (SDM 11.6, 11.12) ------------------------------------ */

/* One LAPIC takes an interrupt (Linux: __apic_accept_irq). Returns 1 if it
 * did. */
static int __apic_accept_irq(struct kvm_lapic *apic, uint32_t delivery_mode, int vector, bool level,
			     uint32_t trig_mode)
{
	struct kvm_vcpu *vcpu = apic->vcpu;

	switch (delivery_mode) {
	case APIC_DM_LOWEST:
		/* The sender has chosen this LAPIC (kvm_irq_delivery_to_apic):
		 * from here on it is a fixed interrupt. */
	case APIC_DM_FIXED:
		if (!apic_enabled(apic))
			return 0;
		/* TMR records the trigger so that EOI knows whom to tell (11.8.4). */
		if (trig_mode)
			apic_set_vector(apic, APIC_TMR, vector);
		else
			apic_clear_vector(apic, APIC_TMR, vector);
		apic_set_irr(apic, vector);
		break;
	case APIC_DM_NMI:
		vcpu->arch.nmi_pending = true;
		break;
	case APIC_DM_INIT:
		/* A level-triggered INIT de-assert only synchronised arbitration
		 * IDs on old APICs (11.6.1): nothing to do. */
		if (trig_mode && !level)
			return 0;
		/* A new INIT forgets a SIPI that came before it. */
		apic->pending_events = 1ul << KVM_APIC_INIT;
		break;
	case APIC_DM_STARTUP:
		apic->sipi_vector = (unsigned int)vector;
		apic->pending_events |= 1ul << KVM_APIC_SIPI;
		break;
	default:
		/* SMI (no SMM here), remote read (not on xAPICs), and ExtINT,
		 * which comes from the PIC through kvm_cpu_get_interrupt. */
		return 0;
	}
	kvm_make_request(KVM_REQ_EVENT, vcpu);
	kvm_vcpu_kick(vcpu);
	return 1;
}

int kvm_apic_set_irq(struct kvm_vcpu *vcpu, struct kvm_lapic_irq *irq)
{
	if (!vcpu->arch.apic)
		return 0;
	return __apic_accept_irq(vcpu->arch.apic, irq->delivery_mode, (int)(irq->vector & APIC_VECTOR_MASK),
				 irq->level, irq->trig_mode);
}

/* An LVT entry's own interrupt, e.g. the timer's (Linux: kvm_apic_local_deliver). */
static int kvm_apic_local_deliver(struct kvm_lapic *apic, unsigned int lvt_type)
{
	uint32_t reg = kvm_lapic_get_reg(apic, lvt_type);
	if (!kvm_apic_hw_enabled(apic) || (reg & APIC_LVT_MASKED))
		return 0;
	return __apic_accept_irq(apic, reg & APIC_MODE_MASK, (int)(reg & APIC_VECTOR_MASK), true,
				 (reg & APIC_LVT_LEVEL_TRIGGER) ? APIC_LEVEL_TRIG : APIC_EDGE_TRIG);
}

int kvm_apic_accept_pic_intr(struct kvm_vcpu *vcpu)
{
	struct kvm_lapic *apic = vcpu->arch.apic;
	if (!apic)
		return 1;
	/* A globally disabled APIC passes INTR straight to the processor
	 * (11.4.3); an enabled one only through LINT0 programmed as ExtINT
	 * (virtual wire mode, 11.5.1). */
	uint32_t lvt0 = kvm_lapic_get_reg(apic, APIC_LVT0);
	if (!kvm_apic_hw_enabled(apic))
		return 1;
	return !(lvt0 & APIC_LVT_MASKED) && GET_APIC_DELIVERY_MODE(lvt0) == APIC_MODE_EXTINT;
}

/* ---- destinations (SDM 11.6.2) ------------------------------------------------------ */

static bool kvm_apic_match_physical_addr(const struct kvm_lapic *apic, uint32_t mda)
{
	return mda == APIC_BROADCAST || mda == kvm_xapic_id(apic);
}

/* Logical destination: the LDR's 8 bits against the message's, as the DFR's
 * model says (11.6.2.2): flat, a bit per APIC; cluster, a cluster number in
 * bits 7:4 and a bit per APIC of that cluster in bits 3:0. */
static bool kvm_apic_match_logical_addr(const struct kvm_lapic *apic, uint32_t mda)
{
	if (mda == APIC_BROADCAST)
		return true;
	uint32_t logical_id = GET_APIC_LOGICAL_ID(kvm_lapic_get_reg(apic, APIC_LDR));
	switch (kvm_lapic_get_reg(apic, APIC_DFR)) {
	case APIC_DFR_FLAT:
		return (logical_id & mda) != 0;
	case APIC_DFR_CLUSTER:
		return (logical_id >> 4) == (mda >> 4) && (logical_id & mda & 0xf) != 0;
	default:
		return false;
	}
}

bool kvm_apic_match_dest(struct kvm_vcpu *vcpu, struct kvm_lapic *src, int shorthand, unsigned int dest,
			 int dest_mode)
{
	struct kvm_lapic *target = vcpu->arch.apic;
	if (!target)
		return false;
	switch ((uint32_t)shorthand) {
	case APIC_DEST_NOSHORT:
		if ((uint32_t)dest_mode == APIC_DEST_PHYSICAL)
			return kvm_apic_match_physical_addr(target, dest & 0xff);
		return kvm_apic_match_logical_addr(target, dest & 0xff);
	case APIC_DEST_SELF:
		return target == src;
	case APIC_DEST_ALLINC:
		return true;
	case APIC_DEST_ALLBUT:
		return target != src;
	default:
		return false;
	}
}

int kvm_irq_delivery_to_apic(struct kvm *kvm, struct kvm_lapic *src, struct kvm_lapic_irq *irq)
{
	struct kvm_vcpu *lowest = NULL;
	uint32_t lowest_ppr = 0;
	int r = -1;

	for (int i = 0; i < kvm->nr_vcpus; i++) {
		struct kvm_vcpu *vcpu = kvm->vcpus[i];
		if (!vcpu || !vcpu->arch.apic || !kvm_apic_hw_enabled(vcpu->arch.apic))
			continue;
		if (!kvm_apic_match_dest(vcpu, src, (int)irq->shorthand, irq->dest_id, (int)irq->dest_mode))
			continue;
		if (irq->delivery_mode != APIC_DM_LOWEST) {
			if (r < 0)
				r = 0;
			r += kvm_apic_set_irq(vcpu, irq);
			continue;
		}
		/* Lowest priority goes to one APIC of those named: the one
		 * with the lowest processor priority, the first on a tie
		 * (11.6.2.4; the arbitration ID is not modelled). */
		if (!vcpu->arch.apic->sw_enabled)
			continue;
		apic_update_ppr(vcpu->arch.apic);
		uint32_t ppr = kvm_lapic_get_reg(vcpu->arch.apic, APIC_PROCPRI);
		if (!lowest || ppr < lowest_ppr) {
			lowest = vcpu;
			lowest_ppr = ppr;
		}
	}
	if (lowest)
		r = kvm_apic_set_irq(lowest, irq);
	return r;
}

/* A write of ICR's low half sends the IPI it describes (11.6.1). */
static void kvm_apic_send_ipi(struct kvm_lapic *apic, uint32_t icr_low, uint32_t icr_high)
{
	struct kvm_lapic_irq irq = {
		.vector = icr_low & APIC_VECTOR_MASK,
		.delivery_mode = icr_low & APIC_MODE_MASK,
		.dest_mode = icr_low & APIC_DEST_MASK,
		.level = (icr_low & APIC_INT_ASSERT) != 0,
		.trig_mode = (icr_low & APIC_INT_LEVELTRIG) ? APIC_LEVEL_TRIG : APIC_EDGE_TRIG,
		.shorthand = icr_low & APIC_SHORT_MASK,
		.dest_id = GET_APIC_DEST_FIELD(icr_high),
	};
	kvm_irq_delivery_to_apic(apic->vcpu->kvm, apic, &irq);
}

/* ---- the timer (SDM 11.5.4) -------------------------------------------------------- */

/* TDCR bits 3, 1:0 to the divisor 1, 2, 4, ..., 128 (figure 11-10; Linux:
 * update_divide_count). */
static void update_divide_count(struct kvm_lapic *apic)
{
	// @lab 08 update_divide_count: divide_count from TDCR bits 3 and 1:0: 000 -> 2, 001 -> 4, ..., 110 -> 128, 111 -> 1 (SDM figure 11-10).
	(void)apic;
	lab_todo(8, "update_divide_count");
	// @end
}

static void cancel_apic_timer(struct kvm_lapic *apic)
{
	apic->lapic_timer.target_ns = 0;
	apic->lapic_timer.period_ns = 0;
}

static void apic_timer_expired(struct kvm_lapic *apic);

/* TSC ticks to host ns at host_tsc_khz(), rounded up so that the timer
 * never fires before the guest's TSC reaches the deadline. */
static uint64_t tsc_delta_to_ns(uint64_t delta)
{
	uint64_t khz = host_tsc_khz();
	if (!khz)
		khz = 1;
	return (uint64_t)(((unsigned __int128)delta * 1000000u + khz - 1) / khz);
}

/* Arm the timer from TMICT (one-shot, periodic) or from the deadline
 * (TSC-deadline mode), starting now (Linux: start_apic_timer). */
static void start_apic_timer(struct kvm_lapic *apic)
{
	struct kvm_timer *t = &apic->lapic_timer;
	uint64_t now = host_clock_ns();

	// @lab 08 start_apic_timer: Set target_ns and period_ns: TMICT x divide_count bus cycles (periodic: at least APIC_MIN_PERIOD_NS) from now, 0 disarms; TSC-deadline: the deadline's distance in ns from kvm_read_l1_tsc(), a past one fires at once.
	(void)t, (void)now;
	lab_todo(8, "start_apic_timer");
	// @end
}

/* The periodic timer's next expiry, from the one just passed: counting from
 * now instead would add each delivery's lateness to the period and the
 * guest's clock would drift (Linux: advance_periodic_target_expiration). */
static void advance_periodic_target_expiration(struct kvm_lapic *apic)
{
	struct kvm_timer *t = &apic->lapic_timer;
	uint64_t now = host_clock_ns();

	// @lab 08 advance_periodic_target_expiration: target_ns += period_ns; periods already over (the vCPU ran late) are skipped whole, so the next target is the first after now on the same beat.
	(void)t, (void)now;
	lab_todo(8, "advance_periodic_target_expiration");
	// @end
}

/* The current count: what is left of this period, in divided bus cycles
 * (Linux: apic_get_tmcct). 0 once a one-shot count is over. */
static uint32_t apic_get_tmcct(struct kvm_lapic *apic)
{
	const struct kvm_timer *t = &apic->lapic_timer;
	uint64_t now = host_clock_ns();
	uint32_t tmict = kvm_lapic_get_reg(apic, APIC_TMICT);

	// @lab 08 apic_get_tmcct: 0 if not counting (TSC-deadline, disarmed, one-shot over); else the ns to target_ns (periodic: modulo the period) over divide_count bus cycles, at most TMICT.
	(void)t, (void)now, (void)tmict;
	lab_todo(8, "apic_get_tmcct");
	// @end
}

/* The timer's count is over (Linux: apic_timer_expired, apic_timer_fn):
 * its LVT entry's interrupt, unless masked; then the next period, or
 * disarmed. */
static void apic_timer_expired(struct kvm_lapic *apic)
{
	struct kvm_timer *t = &apic->lapic_timer;
	kvm_apic_local_deliver(apic, APIC_LVTT);
	if (apic_lvtt_tscdeadline(apic)) {
		/* The MSR reads 0 once the timer has fired (11.5.4.1). */
		t->tscdeadline = 0;
		t->target_ns = 0;
	} else if (apic_lvtt_period(apic) && t->period_ns) {
		advance_periodic_target_expiration(apic);
	} else {
		t->target_ns = 0;
	}
}

uint64_t kvm_lapic_next_event_ns(struct kvm_vcpu *vcpu)
{
	struct kvm_lapic *apic = vcpu->arch.apic;
	if (!apic || !apic->lapic_timer.target_ns)
		return UINT64_MAX;
	return apic->lapic_timer.target_ns;
}

void kvm_lapic_check_timer(struct kvm_vcpu *vcpu)
{
	struct kvm_lapic *apic = vcpu->arch.apic;
	if (!apic || !apic->lapic_timer.target_ns)
		return;
	if (host_clock_ns() >= apic->lapic_timer.target_ns)
		apic_timer_expired(apic);
}

void kvm_set_lapic_tscdeadline_msr(struct kvm_vcpu *vcpu, uint64_t data)
{
	struct kvm_lapic *apic = vcpu->arch.apic;
	/* Outside TSC-deadline mode the MSR ignores writes (11.5.4.1). */
	if (!apic || !apic_lvtt_tscdeadline(apic))
		return;
	cancel_apic_timer(apic);
	apic->lapic_timer.tscdeadline = data;
	start_apic_timer(apic);
}

uint64_t kvm_get_lapic_tscdeadline_msr(struct kvm_vcpu *vcpu)
{
	struct kvm_lapic *apic = vcpu->arch.apic;
	if (!apic || !apic_lvtt_tscdeadline(apic))
		return 0;
	return apic->lapic_timer.tscdeadline;
}

/* LVTT's timer mode changed (Linux: apic_update_lvtt). Between one-shot and
 * periodic the count goes on; into or out of TSC-deadline mode the timer
 * stops and TMICT and the deadline are cleared (11.5.4.1). */
static void apic_update_lvtt(struct kvm_lapic *apic)
{
	struct kvm_timer *t = &apic->lapic_timer;
	uint32_t mode = kvm_lapic_get_reg(apic, APIC_LVTT) & t->timer_mode_mask;
	if (mode == t->timer_mode)
		return;
	if (apic_lvtt_tscdeadline(apic) != (mode == APIC_LVT_TIMER_TSCDEADLINE)) {
		cancel_apic_timer(apic);
		kvm_lapic_set_reg(apic, APIC_TMICT, 0);
		t->tscdeadline = 0;
	}
	t->timer_mode = mode;
}

/* ---- register reads and writes (table 11-1) --------------------------------------- */

/* The registers an xAPIC has; the rest of the page reads 0. */
static bool apic_reg_readable(unsigned int reg)
{
	switch (reg) {
	case APIC_ID: case APIC_LVR: case APIC_TASKPRI: case APIC_ARBPRI: case APIC_PROCPRI:
	case APIC_LDR: case APIC_DFR: case APIC_SPIV: case APIC_ESR: case APIC_ICR: case APIC_ICR2:
	case APIC_LVTT: case APIC_LVTTHMR: case APIC_LVTPC: case APIC_LVT0: case APIC_LVT1: case APIC_LVTERR:
	case APIC_TMICT: case APIC_TMCCT: case APIC_TDCR:
		return true;
	default:
		return (reg >= APIC_ISR && reg < APIC_ISR + 0x80) || (reg >= APIC_TMR && reg < APIC_TMR + 0x80) ||
		       (reg >= APIC_IRR && reg < APIC_IRR + 0x80);
	}
}

static uint32_t apic_reg_read(struct kvm_lapic *apic, unsigned int reg)
{
	if (!apic_reg_readable(reg))
		return 0;
	switch (reg) {
	case APIC_ARBPRI:
		return 0;   /* no arbitration priority since the Pentium 4 (11.4.1) */
	case APIC_PROCPRI:
		apic_update_ppr(apic);
		return kvm_lapic_get_reg(apic, APIC_PROCPRI);
	case APIC_TMCCT:
		return apic_get_tmcct(apic);
	default:
		return kvm_lapic_get_reg(apic, reg);
	}
}

/* SVR (11.9): software enable and the spurious vector. Software-disabling
 * masks every LVT entry (11.4.7.2); enabling leaves them masked. */
static void apic_set_spiv(struct kvm_lapic *apic, uint32_t val)
{
	val &= APIC_VECTOR_MASK | APIC_SPIV_APIC_ENABLED | APIC_SPIV_FOCUS_DISABLED;
	kvm_lapic_set_reg(apic, APIC_SPIV, val);
	apic->sw_enabled = val & APIC_SPIV_APIC_ENABLED;
	if (apic->sw_enabled)
		return;
	for (unsigned int i = 0; i < KVM_APIC_LVT_NUM; i++) {
		unsigned int lvt = APIC_LVTT + 0x10 * i;
		kvm_lapic_set_reg(apic, lvt, kvm_lapic_get_reg(apic, lvt) | APIC_LVT_MASKED);
	}
}

static void apic_reg_write(struct kvm_lapic *apic, unsigned int reg, uint32_t val)
{
	switch (reg) {
	case APIC_ID:
		/* Writable on xAPICs, as Linux's KVM lets it be. */
		kvm_lapic_set_reg(apic, APIC_ID, val & 0xff000000);
		break;
	case APIC_TASKPRI:
		apic_set_tpr(apic, val);
		break;
	case APIC_EOI:
		apic_set_eoi(apic);
		break;
	case APIC_LDR:
		kvm_lapic_set_reg(apic, APIC_LDR, val & APIC_LDR_MASK);
		break;
	case APIC_DFR:
		/* Only the model, bits 31:28; the rest read as ones. */
		kvm_lapic_set_reg(apic, APIC_DFR, val | APIC_DFR_CLUSTER);
		break;
	case APIC_SPIV:
		apic_set_spiv(apic, val);
		break;
	case APIC_ICR:
		/* Delivery is done by the time the write returns: the delivery
		 * status (send pending) always reads idle. */
		val &= ~(uint32_t)APIC_ICR_BUSY;
		kvm_lapic_set_reg(apic, APIC_ICR, val);
		kvm_apic_send_ipi(apic, val, kvm_lapic_get_reg(apic, APIC_ICR2));
		break;
	case APIC_ICR2:
		kvm_lapic_set_reg(apic, APIC_ICR2, val & 0xff000000);
		break;
	case APIC_LVTT:
		if (!apic->sw_enabled)
			val |= APIC_LVT_MASKED;
		kvm_lapic_set_reg(apic, APIC_LVTT, val & (apic_lvt_mask[0] | apic->lapic_timer.timer_mode_mask));
		apic_update_lvtt(apic);
		break;
	case APIC_LVTTHMR: case APIC_LVTPC: case APIC_LVT0: case APIC_LVT1: case APIC_LVTERR:
		/* While software-disabled, the mask bits stay set (11.4.7.2). */
		if (!apic->sw_enabled)
			val |= APIC_LVT_MASKED;
		kvm_lapic_set_reg(apic, reg, val & apic_lvt_mask[(reg - APIC_LVTT) >> 4]);
		break;
	case APIC_TMICT:
		/* TSC-deadline mode ignores TMICT (11.5.4.1). */
		if (apic_lvtt_tscdeadline(apic))
			break;
		kvm_lapic_set_reg(apic, APIC_TMICT, val);
		start_apic_timer(apic);
		break;
	case APIC_TDCR:
		/* The new divisor applies from the next TMICT write (TMCCT reads the time
		 * left over it meanwhile); Linux rescales a running count to the new rate. */
		kvm_lapic_set_reg(apic, APIC_TDCR, val & APIC_TDR_DIV_MASK);
		update_divide_count(apic);
		break;
	default:
		/* Read-only (LVR, PPR, ISR, TMR, IRR, TMCCT), ESR (errors are
		 * not modelled) and reserved: ignored. */
		break;
	}
}

static bool apic_mmio_in_range(const struct kvm_lapic *apic, uint64_t addr)
{
	return addr >= apic->base_address && addr < apic->base_address + LAPIC_MMIO_LENGTH;
}

int kvm_lapic_mmio_read(struct kvm_vcpu *vcpu, uint64_t addr, int len, void *val)
{
	struct kvm_lapic *apic = vcpu->arch.apic;
	if (!apic || !apic_mmio_in_range(apic, addr) || len <= 0 || len > 8)
		return -EOPNOTSUPP;
	/* A globally disabled APIC's page reads all ones, as Linux's KVM
	 * (KVM_X86_QUIRK_LAPIC_MMIO_HOLE). */
	if (!kvm_apic_hw_enabled(apic)) {
		memset(val, 0xff, (size_t)len);
		return 0;
	}
	unsigned int offset = (unsigned int)(addr - apic->base_address);
	unsigned int align = offset & 0xf;
	memset(val, 0, (size_t)len);
	/* A register is the first 4 bytes of its 16 (11.4.1); a read that
	 * leaves them gets 0, as a reserved register. */
	if (align + (unsigned int)len > 4)
		return 0;
	uint32_t reg = apic_reg_read(apic, offset & ~0xfu);
	memcpy(val, (const uint8_t *)&reg + align, (size_t)len);
	return 0;
}

int kvm_lapic_mmio_write(struct kvm_vcpu *vcpu, uint64_t addr, int len, const void *val)
{
	struct kvm_lapic *apic = vcpu->arch.apic;
	if (!apic || !apic_mmio_in_range(apic, addr))
		return -EOPNOTSUPP;
	unsigned int offset = (unsigned int)(addr - apic->base_address);
	/* Registers are written 32 bits at a time, 16-byte aligned (11.4.1);
	 * anything else, and every write to a disabled APIC, is dropped. */
	if (!kvm_apic_hw_enabled(apic) || len != 4 || (offset & 0xf))
		return 0;
	uint32_t v;
	memcpy(&v, val, sizeof(v));
	apic_reg_write(apic, offset, v);
	return 0;
}

static int apic_mmio_read(struct kvm_vcpu *vcpu, struct kvm_io_device *dev, uint64_t addr, int len, void *val)
{
	struct kvm_lapic *apic = container_of(dev, struct kvm_lapic, dev);
	(void)vcpu;
	return kvm_lapic_mmio_read(apic->vcpu, addr, len, val);
}

static int apic_mmio_write(struct kvm_vcpu *vcpu, struct kvm_io_device *dev, uint64_t addr, int len,
			   const void *val)
{
	struct kvm_lapic *apic = container_of(dev, struct kvm_lapic, dev);
	(void)vcpu;
	return kvm_lapic_mmio_write(apic->vcpu, addr, len, val);
}

static const struct kvm_io_device_ops apic_mmio_ops = {
	.read = apic_mmio_read,
	.write = apic_mmio_write,
};

/* ---- life cycle, IA32_APIC_BASE, INIT and SIPI -------------------------------------- */

void kvm_lapic_set_base(struct kvm_vcpu *vcpu, uint64_t value)
{
	uint64_t old = vcpu->arch.apic_base;
	struct kvm_lapic *apic = vcpu->arch.apic;
	vcpu->arch.apic_base = value;
	if (!apic)
		return;
	apic->base_address = value & APIC_BASE_ADDR_MASK;
	/* Enabled again after a global disable: the ID is the vCPU's again,
	 * as Linux's KVM. */
	if ((old ^ value) & value & MSR_IA32_APICBASE_ENABLE)
		kvm_lapic_set_reg(apic, APIC_ID, (uint32_t)vcpu->vcpu_id << 24);
}

void kvm_lapic_reset(struct kvm_vcpu *vcpu, bool init_event)
{
	struct kvm_lapic *apic = vcpu->arch.apic;
	if (!apic)
		return;

	/* Power-on: the MSR's reset value (11.4.4), BSP flag on vCPU 0. INIT
	 * keeps the MSR and the APIC ID (11.4.7.3). */
	if (!init_event) {
		kvm_lapic_set_base(vcpu, APIC_DEFAULT_PHYS_BASE | MSR_IA32_APICBASE_ENABLE |
					 (vcpu->vcpu_id == 0 ? MSR_IA32_APICBASE_BSP : 0));
		kvm_lapic_set_reg(apic, APIC_ID, (uint32_t)vcpu->vcpu_id << 24);
	}
	uint32_t id = kvm_lapic_get_reg(apic, APIC_ID);
	memset(apic->regs, 0, sizeof(apic->regs));
	kvm_lapic_set_reg(apic, APIC_ID, id);
	kvm_lapic_set_reg(apic, APIC_LVR, APIC_VERSION | ((KVM_APIC_LVT_NUM - 1) << 16));

	/* The values after power-up and INIT (11.4.7.1): every LVT masked,
	 * DFR all ones (flat), SVR 0xff (software-disabled); the rest 0. */
	apic->lapic_timer = (struct kvm_timer){
		.timer_mode = APIC_LVT_TIMER_ONESHOT,
		.timer_mode_mask = APIC_LVT_TIMER_MASK,
	};
	for (unsigned int i = 0; i < KVM_APIC_LVT_NUM; i++)
		kvm_lapic_set_reg(apic, APIC_LVTT + 0x10 * i, APIC_LVT_MASKED);
	/* Firmware leaves the BSP's LINT0 in virtual wire mode (ExtINT) so
	 * that the PIC reaches it; Linux's KVM does the same at reset
	 * (KVM_X86_QUIRK_LINT0_REENABLED), and so does this one. */
	if (!init_event && kvm_vcpu_is_bsp(vcpu))
		kvm_lapic_set_reg(apic, APIC_LVT0, APIC_MODE_EXTINT << 8);
	kvm_lapic_set_reg(apic, APIC_DFR, APIC_DFR_FLAT);
	kvm_lapic_set_reg(apic, APIC_SPIV, 0xff);
	apic->sw_enabled = false;
	apic->divide_count = 2;   /* TDCR 0 */

	/* IRR, ISR, TPR and so PPR are 0. */
	apic->irr_pending = false;
	apic->isr_count = 0;
	apic->highest_isr_cache = -1;
	apic->pending_events = 0;
	apic->sipi_vector = 0;
}

int kvm_create_lapic(struct kvm_vcpu *vcpu)
{
	struct kvm_lapic *apic = kvm_zalloc(sizeof(*apic));
	if (!apic)
		return -ENOMEM;
	apic->vcpu = vcpu;
	apic->dev.ops = &apic_mmio_ops;
	vcpu->arch.apic = apic;
	kvm_lapic_reset(vcpu, false);
	return 0;
}

void kvm_free_lapic(struct kvm_vcpu *vcpu)
{
	if (!vcpu->arch.apic)
		return;
	kvm_free(vcpu->arch.apic, sizeof(*vcpu->arch.apic));
	vcpu->arch.apic = NULL;
}

void kvm_apic_accept_events(struct kvm_vcpu *vcpu)
{
	struct kvm_lapic *apic = vcpu->arch.apic;
	if (!apic || !apic->pending_events)
		return;
	unsigned long pe = apic->pending_events;
	/* INIT and SIPI may both be waiting (the vCPU did not run between
	 * them): the reset INIT makes must not lose the SIPI's vector. */
	unsigned int sipi_vector = apic->sipi_vector;
	apic->pending_events = 0;

	/* INIT resets the processor (its APIC too, kvm_vcpu_reset calls
	 * kvm_lapic_reset); an AP then waits for a SIPI, the BSP runs on
	 * from the reset vector (SDM Vol. 3A 9.4, 11.6.1). */
	if (pe & (1ul << KVM_APIC_INIT)) {
		kvm_vcpu_reset(vcpu, true);
		vcpu->arch.mp_state = kvm_vcpu_is_bsp(vcpu) ? KVM_MP_STATE_RUNNABLE : KVM_MP_STATE_INIT_RECEIVED;
	}
	/* A SIPI starts a processor waiting for one, in real mode at
	 * vector << 12 (CS = vector << 8, IP = 0); any other drops it
	 * (SDM Vol. 3A 9.4.4). */
	if ((pe & (1ul << KVM_APIC_SIPI)) && vcpu->arch.mp_state == KVM_MP_STATE_INIT_RECEIVED) {
		struct kvm_segment cs;
		kvm_x86_ops.get_segment(vcpu, &cs, VCPU_SREG_CS);
		cs.selector = (uint16_t)(sipi_vector << 8);
		cs.base = (uint64_t)sipi_vector << 12;
		kvm_x86_ops.set_segment(vcpu, &cs, VCPU_SREG_CS);
		kvm_rip_write(vcpu, 0);
		vcpu->arch.mp_state = KVM_MP_STATE_RUNNABLE;
	}
}

/* ---- KVM_GET_LAPIC / KVM_SET_LAPIC ---------------------------------------------------- */

int kvm_apic_get_state(struct kvm_vcpu *vcpu, struct kvm_lapic_state *s)
{
	struct kvm_lapic *apic = vcpu->arch.apic;
	if (!apic)
		return -EINVAL;
	memcpy(s->regs, apic->regs, sizeof(s->regs));
	/* TMCCT is computed, not stored: save what it reads now; PPR too. */
	apic_update_ppr(apic);
	uint32_t tmcct = apic_get_tmcct(apic);
	memcpy(s->regs + APIC_TMCCT, &tmcct, sizeof(tmcct));
	memcpy(s->regs + APIC_PROCPRI, apic->regs + APIC_PROCPRI, sizeof(uint32_t));
	return 0;
}

int kvm_apic_set_state(struct kvm_vcpu *vcpu, const struct kvm_lapic_state *s)
{
	struct kvm_lapic *apic = vcpu->arch.apic;
	if (!apic)
		return -EINVAL;
	kvm_lapic_set_base(vcpu, vcpu->arch.apic_base);
	memcpy(apic->regs, s->regs, sizeof(s->regs));
	kvm_lapic_set_reg(apic, APIC_LVR, APIC_VERSION | ((KVM_APIC_LVT_NUM - 1) << 16));
	kvm_lapic_set_reg(apic, APIC_TMCCT, 0);
	/* Everything derived from the registers, derived again; the timer
	 * counts TMICT anew from now. */
	apic->sw_enabled = kvm_lapic_get_reg(apic, APIC_SPIV) & APIC_SPIV_APIC_ENABLED;
	apic->isr_count = 0;
	for (int i = 0; i < 8; i++)
		apic->isr_count += __builtin_popcount(kvm_lapic_get_reg(apic, APIC_ISR + 0x10u * (unsigned int)i));
	apic->highest_isr_cache = -1;
	apic->irr_pending = true;
	cancel_apic_timer(apic);
	apic->lapic_timer.tscdeadline = 0;
	apic->lapic_timer.timer_mode = kvm_lapic_get_reg(apic, APIC_LVTT) & apic->lapic_timer.timer_mode_mask;
	update_divide_count(apic);
	start_apic_timer(apic);
	apic_update_ppr(apic);
	kvm_make_request(KVM_REQ_EVENT, vcpu);
	return 0;
}
