/* SPDX-License-Identifier: MIT */
/*
 * The generic x86 half of minikvm (Linux: arch/x86/kvm/x86.c): the KVM_RUN
 * loop (vcpu_run / vcpu_enter_guest, with the requests of kvm_host.h checked
 * before each entry), event injection through the vendor ops, the
 * control-register and MSR rules, vCPU state <-> kvm_regs/kvm_sregs, the
 * kvm_run exit protocol (KVM_EXIT_IO completed on the next KVM_RUN as
 * complete_fast_pio_in does), the hypercall ABI of guest_abi.h, and the
 * entries of the emulator (lab 07) and the in-kernel irqchip (lab 08).
 * Everything VMX-specific is behind kvm_x86_ops.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <x86/const.h>
#include <x86/msr-index.h>
#include <x86/pgtable.h>
#include <x86/processor-flags.h>
#include <x86/trapnr.h>

#include "kvmlabs/guest_abi.h"
#include "kvmlabs/host_kernel.h"
#include "kvmlabs/lab.h"
#include "cpuid.h"
#include "i8254.h"
#include "ioapic.h"
#include "irq.h"
#include "lapic.h"
#include "kvm_emulate.h"
#include "mmu/mmu.h"
#include "x86.h"

/* A Linux VMM gets out of a KVM_RUN that never exits with a signal; the
 * bare-metal host has none, so KVM_RUN gives the VMM its thread back with
 * -EINTR after this long in the guest (or blocked in HLT), as if a timer
 * signal had arrived. */
#define KVM_RUN_SLICE_NS 100000000ull

struct kvm_x86_ops kvm_x86_ops;

/* ---- life cycle (Linux: kvm_arch_*) -------------------------------------- */

int kvm_arch_hardware_setup(char *err, size_t errlen)
{
	/* Linux: kvm_x86_vendor_init() copies kvm_intel's or kvm_amd's table. */
	kvm_x86_ops = vmx_x86_ops;
	return kvm_x86_ops.hardware_setup(err, errlen);
}

int kvm_arch_hardware_enable(void)
{
	return kvm_x86_ops.hardware_enable();
}

void kvm_arch_hardware_disable(void)
{
	kvm_x86_ops.hardware_disable();
}

int kvm_arch_init_vm(struct kvm *kvm)
{
	kvm->arch.irqchip_mode = KVM_IRQCHIP_NONE;
	return kvm_mmu_init_vm(kvm);
}

void kvm_arch_destroy_vm(struct kvm *kvm)
{
	if (kvm->arch.vpit)
		kvm_free_pit(kvm);
	if (kvm->arch.vpic)
		kvm_destroy_pic(kvm->arch.vpic);
	if (kvm->arch.vioapic)
		kvm_ioapic_destroy(kvm);
	kvm_mmu_uninit_vm(kvm);
}

size_t kvm_arch_vcpu_size(void)
{
	return kvm_x86_ops.vcpu_size;
}

void kvm_arch_memslots_updated(struct kvm *kvm)
{
	kvm_mmu_invalidate_mmio_sptes(kvm, kvm->memslots_generation);
	kvm_mmu_memslots_updated(kvm);
}

void kvm_arch_flush_shadow_memslot(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	/* Linux zaps only the slot's pages; every page is simpler and as right. */
	(void)slot;
	kvm_mmu_zap_all(kvm);
}

int kvm_arch_create_memslot(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	return LAB_ENABLED(5) ? kvm_mmu_create_memslot(kvm, slot) : 0;
}

void kvm_arch_free_memslot(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	kvm_mmu_free_memslot(kvm, slot);
}

void kvm_arch_sync_dirty_log(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	kvm_mmu_slot_remove_write_access(kvm, slot);
	/* A writable translation the processor still caches would write on
	 * unlogged (Linux: kvm_arch_flush_remote_tlbs_memslot). */
	kvm_flush_remote_tlbs(kvm);
}

/* ---- registers and events ------------------------------------------------- */

int kvm_skip_emulated_instruction(struct kvm_vcpu *vcpu)
{
	return kvm_x86_ops.skip_emulated_instruction(vcpu);
}

/* How two exceptions combine (SDM Vol. 3 Table 6-5; Linux: exception_class). */
enum exception_class { EXCPT_BENIGN, EXCPT_CONTRIBUTORY, EXCPT_PF };

static enum exception_class exception_class(uint8_t vector)
{
	switch (vector) {
	case PF_VECTOR:
		return EXCPT_PF;
	case DE_VECTOR: case TS_VECTOR: case NP_VECTOR: case SS_VECTOR: case GP_VECTOR:
		return EXCPT_CONTRIBUTORY;
	default:
		return EXCPT_BENIGN;
	}
}

/* Queue an exception; one raised while another is being delivered (an exit
 * interrupted its delivery, or it is still pending) becomes #DF, or a triple
 * fault after #DF, as the processor would make it (Linux: kvm_multiple_exception). */
static void kvm_multiple_exception(struct kvm_vcpu *vcpu, uint8_t vector, bool has_error_code, uint32_t error_code)
{
	struct kvm_queued_exception *ex = &vcpu->arch.exception;
	if (ex->pending || ex->injected) {
		enum exception_class first = exception_class(ex->vector), second = exception_class(vector);
		if (ex->vector == DF_VECTOR) {
			kvm_make_request(KVM_REQ_TRIPLE_FAULT, vcpu);
			return;
		}
		if ((first == EXCPT_CONTRIBUTORY && second == EXCPT_CONTRIBUTORY) ||
		    (first == EXCPT_PF && second != EXCPT_BENIGN)) {
			vector = DF_VECTOR;
			has_error_code = true;
			error_code = 0;
		}
		/* Otherwise the two are handled one after the other: the new one now,
		 * the first again when its instruction runs again. */
	}
	*ex = (struct kvm_queued_exception){
		.pending = true, .vector = vector, .has_error_code = has_error_code, .error_code = error_code,
	};
}

void kvm_queue_exception(struct kvm_vcpu *vcpu, uint8_t vector)
{
	kvm_multiple_exception(vcpu, vector, false, 0);
}

void kvm_queue_exception_e(struct kvm_vcpu *vcpu, uint8_t vector, uint32_t error_code)
{
	kvm_multiple_exception(vcpu, vector, true, error_code);
}

void kvm_inject_page_fault(struct kvm_vcpu *vcpu, const struct x86_exception *fault)
{
	vcpu->arch.cr2 = fault->address;
	kvm_queue_exception_e(vcpu, PF_VECTOR, fault->error_code);
}

void kvm_requeue_exception(struct kvm_vcpu *vcpu, uint8_t vector, bool has_error_code, uint32_t error_code)
{
	vcpu->arch.exception = (struct kvm_queued_exception){
		.injected = true, .vector = vector, .has_error_code = has_error_code, .error_code = error_code,
	};
}

void kvm_queue_interrupt(struct kvm_vcpu *vcpu, uint8_t vector, bool soft)
{
	vcpu->arch.interrupt = (struct kvm_queued_interrupt){ .injected = true, .soft = soft, .nr = vector };
}

void kvm_clear_event_queues(struct kvm_vcpu *vcpu)
{
	vcpu->arch.exception.injected = false;
	vcpu->arch.interrupt.injected = false;
	vcpu->arch.nmi_injected = false;
}

static bool dm_request_for_irq_injection(struct kvm_vcpu *vcpu);

// @region kvm_inject_events
/*
 * Hand at most one event to the vendor for the next entry (Linux:
 * kvm_check_and_inject_events). What an exit interrupted goes first, as it
 * was; then an exception a handler queued; then, from lab 08, an NMI or an
 * interrupt of the in-kernel irqchip if the guest can take it now, or a
 * window that exits as soon as it can.
 */
static void kvm_inject_events(struct kvm_vcpu *vcpu)
{
	struct kvm_vcpu_arch *a = &vcpu->arch;
	if (a->exception.injected) {
		kvm_x86_ops.inject_exception(vcpu);
		return;
	}
	if (a->nmi_injected) {
		kvm_x86_ops.inject_nmi(vcpu);
		return;
	}
	if (a->interrupt.injected) {
		kvm_x86_ops.inject_irq(vcpu, true);
		return;
	}
	if (a->exception.pending) {
		a->exception.pending = false;
		a->exception.injected = true;
		kvm_x86_ops.inject_exception(vcpu);
		return;
	}
	if (dm_request_for_irq_injection(vcpu)) {
		kvm_x86_ops.enable_irq_window(vcpu);
		return;
	}
	if (!LAB_ENABLED(8))
		return;
	/* Lab 08: an NMI or an interrupt of the irqchip, now or at a window
	 * (kvm_event_decide, irq.c). */
	uint32_t shadow = kvm_x86_ops.get_interrupt_shadow(vcpu);
	struct kvm_event_state st = {
		.if_flag = (kvm_x86_ops.get_rflags(vcpu) & X86_EFLAGS_IF) != 0,
		.sti_blocking = (shadow & KVM_X86_SHADOW_INT_STI) != 0,
		.mov_ss_blocking = (shadow & KVM_X86_SHADOW_INT_MOV_SS) != 0,
		.nmi_blocking = kvm_x86_ops.get_nmi_mask(vcpu),
		.nmi_pending = a->nmi_pending,
		.irq_pending = lapic_in_kernel(vcpu) && kvm_cpu_has_interrupt(vcpu),
	};
	unsigned int act = kvm_event_decide(&st);
	if (act & KVM_EVENT_INJECT_NMI) {
		a->nmi_pending = false;
		a->nmi_injected = true;
		kvm_x86_ops.inject_nmi(vcpu);
	} else if (act & KVM_EVENT_INJECT_IRQ) {
		kvm_queue_interrupt(vcpu, (uint8_t)kvm_cpu_get_interrupt(vcpu), false);
		kvm_x86_ops.inject_irq(vcpu, false);
	}
	if (act & KVM_EVENT_NMI_WINDOW)
		kvm_x86_ops.enable_nmi_window(vcpu);
	if (act & KVM_EVENT_IRQ_WINDOW)
		kvm_x86_ops.enable_irq_window(vcpu);
}
// @end

int kvm_internal_error(struct kvm_vcpu *vcpu, uint32_t suberror, int ndata, const uint64_t *data)
{
	struct kvm_run *run = vcpu->run;
	if (ndata > 16)
		ndata = 16;
	run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	run->internal.suberror = suberror;
	run->internal.ndata = (uint32_t)ndata;
	for (int i = 0; i < ndata; i++)
		run->internal.data[i] = data[i];
	return 0;
}

/* ---- guest memory through the guest's translation -------------------------- */

int kvm_read_guest_virt(struct kvm_vcpu *vcpu, gva_t addr, void *val, unsigned int bytes, uint64_t access,
			struct x86_exception *fault)
{
	uint8_t *dst = val;
	while (bytes) {
		unsigned int offset = addr & (PAGE_SIZE - 1);
		unsigned int chunk = bytes < PAGE_SIZE - offset ? bytes : (unsigned int)(PAGE_SIZE - offset);
		gpa_t gpa = kvm_mmu_gva_to_gpa(vcpu, addr, access, fault);
		if (gpa == INVALID_GPA)
			return X86EMUL_PROPAGATE_FAULT;
		if (kvm_read_guest(vcpu->kvm, gpa, dst, chunk) < 0)
			return X86EMUL_IO_NEEDED;  /* not RAM: MMIO */
		dst += chunk;
		addr += chunk;
		bytes -= chunk;
	}
	return X86EMUL_CONTINUE;
}

/* ---- the emulator's callbacks (lab 07 adds the MMIO and PIO ones) ---------- */

static struct kvm_vcpu *emul_to_vcpu(struct x86_emulate_ctxt *ctxt)
{
	return ctxt->vcpu;
}

static uint64_t emulator_read_gpr(struct x86_emulate_ctxt *ctxt, unsigned int reg)
{
	return kvm_register_read(emul_to_vcpu(ctxt), (int)reg);
}

static void emulator_write_gpr(struct x86_emulate_ctxt *ctxt, unsigned int reg, uint64_t val)
{
	kvm_register_write(emul_to_vcpu(ctxt), (int)reg, val);
}

static int emulator_read_std(struct x86_emulate_ctxt *ctxt, uint64_t addr, void *val, unsigned int bytes,
			     struct x86_exception *fault, bool system)
{
	struct kvm_vcpu *vcpu = emul_to_vcpu(ctxt);
	uint64_t access = (!system && kvm_x86_ops.get_cpl(vcpu) == 3) ? PFERR_USER_MASK : 0;
	return kvm_read_guest_virt(vcpu, addr, val, bytes, access, fault);
}

/* The decoder fetches a field at a time; the page under RIP is translated
 * once per instruction, not once per field (Linux keeps the fetched bytes
 * themselves instead: ctxt->fetch). */
static int emulator_fetch(struct x86_emulate_ctxt *ctxt, uint64_t addr, void *val, unsigned int bytes,
			  struct x86_exception *fault)
{
	struct kvm_vcpu *vcpu = emul_to_vcpu(ctxt);
	struct kvm_vcpu_arch *a = &vcpu->arch;
	uint64_t access = PFERR_FETCH_MASK | (kvm_x86_ops.get_cpl(vcpu) == 3 ? PFERR_USER_MASK : 0);
	uint8_t *dst = val;
	while (bytes) {
		unsigned int offset = addr & (PAGE_SIZE - 1);
		unsigned int chunk = bytes < PAGE_SIZE - offset ? bytes : (unsigned int)(PAGE_SIZE - offset);
		if (!a->fetch_page_valid || a->fetch_gva_page != addr - offset) {
			gpa_t gpa = kvm_mmu_gva_to_gpa(vcpu, addr, access, fault);
			if (gpa == INVALID_GPA)
				return X86EMUL_PROPAGATE_FAULT;
			a->fetch_gva_page = addr - offset;
			a->fetch_gpa_page = gpa - offset;
			a->fetch_page_valid = true;
		}
		if (kvm_read_guest(vcpu->kvm, a->fetch_gpa_page + offset, dst, chunk) < 0)
			return X86EMUL_UNHANDLEABLE;   /* code in MMIO */
		dst += chunk;
		addr += chunk;
		bytes -= chunk;
	}
	return X86EMUL_CONTINUE;
}

static void emulator_get_segment(struct x86_emulate_ctxt *ctxt, struct kvm_segment *seg, int sreg)
{
	kvm_x86_ops.get_segment(emul_to_vcpu(ctxt), seg, sreg);
}

static uint64_t emulator_get_cr(struct x86_emulate_ctxt *ctxt, int cr)
{
	struct kvm_vcpu *vcpu = emul_to_vcpu(ctxt);
	switch (cr) {
	case 0: return kvm_read_cr0(vcpu);
	case 2: return vcpu->arch.cr2;
	case 3: return kvm_read_cr3(vcpu);
	case 4: return kvm_read_cr4(vcpu);
	case 8: return kvm_get_cr8(vcpu);
	default: return 0;
	}
}

static int emulator_set_cr(struct x86_emulate_ctxt *ctxt, int cr, uint64_t val)
{
	struct kvm_vcpu *vcpu = emul_to_vcpu(ctxt);
	switch (cr) {
	case 0: return kvm_set_cr0(vcpu, val);
	case 2: vcpu->arch.cr2 = val; return 0;
	case 3: return kvm_set_cr3(vcpu, val);
	case 4: return kvm_set_cr4(vcpu, val);
	case 8: return kvm_set_cr8(vcpu, val);
	default: return 1;
	}
}

static int emulator_get_cpl(struct x86_emulate_ctxt *ctxt)
{
	return kvm_x86_ops.get_cpl(emul_to_vcpu(ctxt));
}

static int emulator_get_msr(struct x86_emulate_ctxt *ctxt, uint32_t index, uint64_t *data)
{
	return kvm_get_msr(emul_to_vcpu(ctxt), index, data);
}

static int emulator_set_msr(struct x86_emulate_ctxt *ctxt, uint32_t index, uint64_t data)
{
	return kvm_set_msr(emul_to_vcpu(ctxt), index, data);
}

/* ---- the emulator's operand accesses: RAM, or MMIO out to the VMM (lab 07) ---- */

/* A store to guest RAM, if gpa..+len is writable RAM; the MMU hears of it
 * in case the page is a guest page table with shadows (Linux:
 * emulator_write_phys). */
static bool emulator_write_phys(struct kvm_vcpu *vcpu, gpa_t gpa, const void *val, unsigned int len)
{
	if (kvm_write_guest(vcpu->kvm, gpa, val, len) < 0)
		return false;
	kvm_mmu_pte_write(vcpu, gpa, val, len);
	return true;
}

/* An MMIO access an in-kernel device takes (Linux: vcpu_mmio_read/write):
 * this vCPU's LAPIC page first, then the VM's MMIO bus (the IOAPIC). */
static bool vcpu_mmio_access(struct kvm_vcpu *vcpu, gpa_t gpa, void *val, unsigned int len, bool write)
{
	if (!LAB_ENABLED(8) || len > 8)
		return false;
	if (vcpu->arch.apic && !(write ? kvm_lapic_mmio_write(vcpu, gpa, (int)len, val)
				       : kvm_lapic_mmio_read(vcpu, gpa, (int)len, val)))
		return true;
	return !(write ? kvm_io_bus_write(vcpu, KVM_MMIO_BUS, gpa, (int)len, val)
		       : kvm_io_bus_read(vcpu, KVM_MMIO_BUS, gpa, (int)len, val));
}

/* One page's part of an emulated access done inside minikvm: guest RAM, or
 * (from lab 08) an in-kernel device. False: it is MMIO for the VMM. */
static bool emulator_access_phys(struct kvm_vcpu *vcpu, gpa_t gpa, void *val, unsigned int len, bool write)
{
	if (write ? emulator_write_phys(vcpu, gpa, val, len) : kvm_read_guest(vcpu->kvm, gpa, val, len) == 0)
		return true;
	return vcpu_mmio_access(vcpu, gpa, val, len, write);
}

/* Fill kvm_run for the current MMIO fragment (api.rst KVM_EXIT_MMIO). */
static void emulator_mmio_exit(struct kvm_vcpu *vcpu)
{
	struct kvm_vcpu_arch *a = &vcpu->arch;
	const struct kvm_mmio_fragment *frag = &a->mmio_fragments[a->mmio_cur_fragment];
	struct kvm_run *run = vcpu->run;
	run->exit_reason = KVM_EXIT_MMIO;
	run->mmio.phys_addr = frag->gpa;
	run->mmio.len = frag->len;
	run->mmio.is_write = a->mmio_is_write;
	memset(run->mmio.data, 0, sizeof(run->mmio.data));
	if (a->mmio_is_write)
		memcpy(run->mmio.data, a->mmio_data + frag->offset, frag->len);
}

/*
 * One operand access of the emulator (Linux: emulator_read_write and
 * emulator_read_write_onepage). Each page of it is translated on its own
 * (an access may cross from RAM into MMIO: SDM Vol. 3 4.10.2); the RAM
 * parts are done here, the MMIO parts become fragments of at most 8 bytes
 * that leave one KVM_EXIT_MMIO at a time. A write is posted: the
 * instruction completes and the exits carry its bytes. A read cannot be:
 * X86EMUL_IO_NEEDED, and the instruction runs again once the data is back,
 * finding it here (mmio_read_completed).
 */
static int emulator_read_write(struct x86_emulate_ctxt *ctxt, uint64_t addr, void *val, unsigned int bytes,
			       struct x86_exception *fault, bool write)
{
	// @lab 07 emulator_read_write: Serve a completed read; else split at pages, translate each, RAM here, MMIO into <= 8-byte fragments; start the first exit.
	struct kvm_vcpu *vcpu = emul_to_vcpu(ctxt);
	struct kvm_vcpu_arch *a = &vcpu->arch;
	uint8_t *data = val;

	if (!write && a->mmio_read_completed && a->mmio_gva == addr && a->mmio_len == bytes) {
		a->mmio_read_completed = false;
		memcpy(val, a->mmio_data, bytes);
		return X86EMUL_CONTINUE;
	}
	if (bytes > sizeof(a->mmio_data))
		return X86EMUL_UNHANDLEABLE;
	uint64_t access = (write ? PFERR_WRITE_MASK : 0) | (kvm_x86_ops.get_cpl(vcpu) == 3 ? PFERR_USER_MASK : 0);
	a->mmio_nr_fragments = 0;
	for (unsigned int done = 0; done < bytes;) {
		uint64_t gva = addr + done;
		unsigned int offset = gva & (PAGE_SIZE - 1);
		unsigned int chunk = bytes - done < PAGE_SIZE - offset ? bytes - done : (unsigned int)(PAGE_SIZE - offset);
		gpa_t gpa = kvm_mmu_gva_to_gpa(vcpu, gva, access, fault);
		if (gpa == INVALID_GPA)
			return X86EMUL_PROPAGATE_FAULT;
		bool here = emulator_access_phys(vcpu, gpa, data + done, chunk, write);
		for (unsigned int o = 0; !here && o < chunk; o += 8) {
			struct kvm_mmio_fragment *frag = &a->mmio_fragments[a->mmio_nr_fragments++];
			frag->gpa = gpa + o;
			frag->offset = done + o;
			frag->len = chunk - o < 8 ? chunk - o : 8;
		}
		done += chunk;
	}
	if (!a->mmio_nr_fragments)
		return X86EMUL_CONTINUE;
	a->mmio_gva = addr;
	a->mmio_len = bytes;
	a->mmio_is_write = write;
	memcpy(a->mmio_data, val, bytes);
	a->mmio_cur_fragment = 0;
	a->mmio_needed = true;
	emulator_mmio_exit(vcpu);
	return write ? X86EMUL_CONTINUE : X86EMUL_IO_NEEDED;
	// @end
}

static int emulator_read_emulated(struct x86_emulate_ctxt *ctxt, uint64_t addr, void *val, unsigned int bytes,
				  struct x86_exception *fault)
{
	return emulator_read_write(ctxt, addr, val, bytes, fault, false);
}

static int emulator_write_emulated(struct x86_emulate_ctxt *ctxt, uint64_t addr, const void *val, unsigned int bytes,
				   struct x86_exception *fault)
{
	return emulator_read_write(ctxt, addr, (void *)val, bytes, fault, true);
}

static void kvm_prepare_pio(struct kvm_vcpu *vcpu, int size, uint16_t port, bool in, uint64_t value);

/* One element of INS/OUTS (Linux: emulator_pio_in, emulator_pio_out with
 * count 1). The OUT is posted; the IN leaves and the instruction runs
 * again with the data (complete_emulated_pio). */
static int emulator_pio_in_emulated(struct x86_emulate_ctxt *ctxt, int size, uint16_t port, void *val,
				    unsigned int count)
{
	struct kvm_vcpu *vcpu = emul_to_vcpu(ctxt);
	if (count != 1 || size < 1 || size > 4)
		return X86EMUL_UNHANDLEABLE;
	if (vcpu->arch.pio.data_ready) {
		vcpu->arch.pio.data_ready = false;
		memcpy(val, &vcpu->arch.pio.data, (size_t)size);
		return X86EMUL_CONTINUE;
	}
	if (LAB_ENABLED(8) && !kvm_io_bus_read(vcpu, KVM_PIO_BUS, port, size, val))
		return X86EMUL_CONTINUE;
	kvm_prepare_pio(vcpu, size, port, true, 0);
	vcpu->arch.pio.size = (uint8_t)size;
	vcpu->arch.pio.in = true;
	vcpu->arch.pio.emulated = true;
	return X86EMUL_IO_NEEDED;
}

static int emulator_pio_out_emulated(struct x86_emulate_ctxt *ctxt, int size, uint16_t port, const void *val,
				     unsigned int count)
{
	struct kvm_vcpu *vcpu = emul_to_vcpu(ctxt);
	uint64_t value = 0;
	if (count != 1 || size < 1 || size > 4)
		return X86EMUL_UNHANDLEABLE;
	memcpy(&value, val, (size_t)size);
	if (LAB_ENABLED(8) && !kvm_io_bus_write(vcpu, KVM_PIO_BUS, port, size, &value))
		return X86EMUL_CONTINUE;
	kvm_prepare_pio(vcpu, size, port, false, value);
	vcpu->arch.pio.size = (uint8_t)size;
	vcpu->arch.pio.in = false;
	vcpu->arch.pio.emulated = true;
	return X86EMUL_CONTINUE;
}

static const struct x86_emulate_ops emulate_ops = {
	.read_gpr = emulator_read_gpr,
	.write_gpr = emulator_write_gpr,
	.read_std = emulator_read_std,
	.fetch = emulator_fetch,
	.read_emulated = emulator_read_emulated,
	.write_emulated = emulator_write_emulated,
	.pio_in_emulated = emulator_pio_in_emulated,
	.pio_out_emulated = emulator_pio_out_emulated,
	.get_segment = emulator_get_segment,
	.get_cr = emulator_get_cr,
	.set_cr = emulator_set_cr,
	.cpl = emulator_get_cpl,
	.get_msr = emulator_get_msr,
	.set_msr = emulator_set_msr,
};

static void init_emulate_ctxt(struct kvm_vcpu *vcpu, int emulation_type)
{
	struct x86_emulate_ctxt *ctxt = &vcpu->arch.emulate_ctxt;
	int db, l;
	kvm_x86_ops.get_cs_db_l_bits(vcpu, &db, &l);
	*ctxt = (struct x86_emulate_ctxt){
		.ops = &emulate_ops,
		.vcpu = vcpu,
		.eflags = kvm_x86_ops.get_rflags(vcpu),
		.eip = kvm_rip_read(vcpu),
		.emulation_type = emulation_type,
	};
	if (!is_protmode(vcpu))
		ctxt->mode = X86EMUL_MODE_REAL;
	else if (ctxt->eflags & X86_EFLAGS_VM)
		ctxt->mode = X86EMUL_MODE_VM86;
	else if (is_long_mode(vcpu) && l)
		ctxt->mode = X86EMUL_MODE_PROT64;
	else
		ctxt->mode = db ? X86EMUL_MODE_PROT32 : X86EMUL_MODE_PROT16;
}

/* ---- the emulator's entry (lab 07) ---------------------------------------- */

/*
 * An instruction minikvm could not emulate (Linux: handle_emulation_failure
 * and prepare_emulation_failure_exit): KVM_EXIT_INTERNAL_ERROR, suberror
 * KVM_INTERNAL_ERROR_EMULATION, with the instruction bytes and the vendor's
 * exit information in the layout of Linux's run->emulation_failure, and a
 * line saying what needed the emulator.
 */
static int handle_emulation_failure(struct kvm_vcpu *vcpu, gpa_t cr2_or_gpa, int emulation_type)
{
	struct kvm_run *run = vcpu->run;
	uint64_t rip = kvm_rip_read(vcpu);
	char what[96];

	/* Outside ring 0 the instruction is the guest's problem, not the
	 * VMM's: #UD, and the guest goes on (Linux: handle_emulation_failure).
	 * A guest can do that in a loop: the first few are told (below), the
	 * rest cost no more than the #UD. */
	int cpl = kvm_x86_ops.get_cpl(vcpu);
	if (cpl > 0 && vcpu->arch.emulation_failures >= 8) {
		kvm_queue_exception(vcpu, UD_VECTOR);
		return 1;
	}

	if (emulation_type & EMULTYPE_PF) {
		struct x86_exception fault;
		gpa_t gpa = vcpu->arch.mmu->direct_map ? cr2_or_gpa
						       : kvm_mmu_gva_to_gpa(vcpu, cr2_or_gpa, 0, &fault);
		bool writable = false;
		bool ram = gpa != INVALID_GPA &&
			   gfn_to_hva_prot(vcpu->kvm, gpa >> KVM_PAGE_SHIFT, &writable) != KVM_HVA_ERR_BAD;
		if (!ram)
			snprintf(what, sizeof(what), "MMIO at GPA 0x%llx", (unsigned long long)gpa);
		else
			snprintf(what, sizeof(what), "a write to the read-only memslot at GPA 0x%llx (an MMIO exit)",
				 (unsigned long long)gpa);
	} else if (emulation_type & EMULTYPE_STRING_IO) {
		snprintf(what, sizeof(what), "string I/O (INS/OUTS)");
	} else {
		snprintf(what, sizeof(what), "the instruction");
	}

	/* The instruction's bytes, as far as they can be read (CS base + RIP). */
	struct kvm_segment cs;
	kvm_x86_ops.get_segment(vcpu, &cs, VCPU_SREG_CS);
	uint8_t insn[15];
	unsigned int insn_size = 0;
	struct x86_exception fault;
	while (insn_size < sizeof(insn) &&
	       kvm_read_guest_virt(vcpu, cs.base + rip + insn_size, &insn[insn_size], 1, PFERR_FETCH_MASK, &fault) ==
		       X86EMUL_CONTINUE)
		insn_size++;

	printf("minikvm: %s at RIP 0x%llx needs the instruction emulator (lab 07)", what, (unsigned long long)rip);
	if (insn_size) {
		printf("; instruction bytes");
		for (unsigned int i = 0; i < insn_size && i < 8; i++)
			printf(" %02x", insn[i]);
	}
	printf(cpl ? "; #UD to the guest at CPL %d\n" : "\n", cpl);
	if (cpl > 0) {
		vcpu->arch.emulation_failures++;
		kvm_queue_exception(vcpu, UD_VECTOR);
		return 1;
	}

	uint64_t info[5] = { 0 };
	uint32_t reason, intr_info, error_code;
	kvm_x86_ops.get_exit_info(vcpu, &reason, &info[1], &info[2], &intr_info, &error_code);
	info[0] = reason;
	info[3] = intr_info;
	info[4] = error_code;

	run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	run->emulation_failure.suberror = KVM_INTERNAL_ERROR_EMULATION;
	run->emulation_failure.flags = 0;
	unsigned int start = 1;   /* data[0] is the flags */
	if (insn_size) {
		run->emulation_failure.flags |= KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
		run->emulation_failure.insn_size = (uint8_t)insn_size;
		memset(run->emulation_failure.insn_bytes, 0x90, sizeof(run->emulation_failure.insn_bytes));
		memcpy(run->emulation_failure.insn_bytes, insn, insn_size);
		start += 2;
	}
	memcpy(&run->internal.data[start], info, sizeof(info));
	run->internal.data[start + ARRAY_SIZE(info)] = cr2_or_gpa;
	run->emulation_failure.ndata = start + ARRAY_SIZE(info) + 1;
	return 0;
}

static uint64_t kvm_get_linear_rip(struct kvm_vcpu *vcpu);
static int complete_emulated_io(struct kvm_vcpu *vcpu);

/* No emulated access waits for userspace any more: a new instruction, or
 * one abandoned because userspace moved RIP. */
static void emulator_cancel_io(struct kvm_vcpu_arch *a)
{
	a->mmio_needed = a->mmio_read_completed = a->pio.emulated = a->pio.data_ready = false;
}

/* A fault the emulator raised, to the guest (Linux: inject_emulated_exception). */
static void inject_emulated_exception(struct kvm_vcpu *vcpu, const struct x86_exception *e)
{
	if (e->vector == PF_VECTOR)
		kvm_inject_page_fault(vcpu, e);
	else if (e->error_code_valid)
		kvm_queue_exception_e(vcpu, e->vector, e->error_code);
	else
		kvm_queue_exception(vcpu, e->vector);
}

/* A REP string instruction runs at most this many elements per exit before
 * the guest gets the processor back (with RIP still on it), so an
 * interrupt is never held off for long (Linux: the 1024 of
 * string_insn_completed's caller). */
#define EMULATE_STRING_BATCH 1024

// @region x86_emulate_instruction
int x86_emulate_instruction(struct kvm_vcpu *vcpu, gpa_t cr2_or_gpa, int emulation_type)
{
	struct x86_emulate_ctxt *ctxt = &vcpu->arch.emulate_ctxt;
	struct kvm_vcpu_arch *a = &vcpu->arch;

	if (!LAB_ENABLED(7))
		return handle_emulation_failure(vcpu, cr2_or_gpa, emulation_type);
	if (!(emulation_type & EMULTYPE_NO_DECODE)) {
		init_emulate_ctxt(vcpu, emulation_type);
		a->fetch_page_valid = false;
		emulator_cancel_io(a);
		if (x86_decode_insn(ctxt, emulation_type) != EMULATION_OK) {
			/* A fault while fetching (#PF, #GP past 15 bytes) is the
			 * guest's. Behind the forced-emulation prefix, an instruction
			 * the emulator does not know is the guest's #UD (Linux: the
			 * EMULTYPE_TRAP_UD_FORCED case of x86_emulate_instruction). */
			if (ctxt->have_exception) {
				inject_emulated_exception(vcpu, &ctxt->exception);
				return 1;
			}
			if (emulation_type & EMULTYPE_TRAP_UD_FORCED) {
				kvm_queue_exception(vcpu, UD_VECTOR);
				return 1;
			}
			goto failed;
		}
		/* A write to a shadowed guest table by an instruction that does not
		 * write page tables: the page is likely no longer one. Unprotect
		 * it and let the guest run the store (Linux: retry_instruction). */
		if ((emulation_type & EMULTYPE_WRITE_PF_TO_SP) && !x86_page_table_writing_insn(ctxt) &&
		    kvm_mmu_unprotect_gfn_and_retry(vcpu, cr2_or_gpa))
			return 1;
	}

	for (unsigned int n = 0;;) {
		int r = x86_emulate_insn(ctxt);
		if (r == EMULATION_IO_NEEDED) {
			/* A read left for userspace: nothing is done yet. */
			a->cui_linear_rip = kvm_get_linear_rip(vcpu);
			a->complete_userspace_io = complete_emulated_io;
			return 0;
		}
		if (r != EMULATION_OK) {
			if (ctxt->have_exception) {
				inject_emulated_exception(vcpu, &ctxt->exception);
				return 1;
			}
			goto failed;
		}
		kvm_rip_write(vcpu, ctxt->eip);
		kvm_x86_ops.set_rflags(vcpu, ctxt->eflags);
		/* The instruction in an STI or MOV SS shadow has run: the shadow
		 * is over (none of the emulated instructions starts one; Linux:
		 * toggle_interruptibility). */
		if (!ctxt->restart)
			kvm_x86_ops.set_interrupt_shadow(vcpu, 0);
		if (a->mmio_needed || a->pio.emulated) {
			/* A posted write or OUT: the exit carries it. */
			a->cui_linear_rip = kvm_get_linear_rip(vcpu);
			a->complete_userspace_io = complete_emulated_io;
			return 0;
		}
		if (!ctxt->restart || ++n >= EMULATE_STRING_BATCH)
			return 1;
	}

failed:
	/* A write to a shadowed guest table that cannot be emulated: lab 05's
	 * way, unprotect and retry (Linux: reexecute_instruction). */
	if ((emulation_type & EMULTYPE_WRITE_PF_TO_SP) && kvm_mmu_unprotect_gfn_and_retry(vcpu, cr2_or_gpa))
		return 1;
	return handle_emulation_failure(vcpu, cr2_or_gpa, emulation_type);
}
// @end

/*
 * The next KVM_RUN after an emulated access left for userspace (Linux:
 * complete_emulated_mmio, complete_emulated_pio). A read's data goes where
 * the emulator will find it; the next MMIO fragment leaves if there is one;
 * then a read, or the next element of a string instruction, runs the
 * instruction again without decoding it. If userspace moved RIP meanwhile
 * (KVM_SET_REGS), the access is abandoned, as for a port I/O exit.
 */
static int complete_emulated_io(struct kvm_vcpu *vcpu)
{
	// @lab 07 complete_emulated_io: Abandon if RIP moved; take a read's data, send the next fragment, or run the instruction again (a read, or the next string element).
	struct kvm_vcpu_arch *a = &vcpu->arch;
	bool rerun;

	if (kvm_get_linear_rip(vcpu) != a->cui_linear_rip) {
		emulator_cancel_io(a);
		return 1;
	}
	if (a->pio.emulated) {
		a->pio.emulated = false;
		rerun = a->pio.in;
		if (a->pio.in) {
			a->pio.data = 0;
			memcpy(&a->pio.data, (const uint8_t *)vcpu->run + vcpu->run->io.data_offset, a->pio.size);
			a->pio.data_ready = true;
		}
	} else if (a->mmio_needed) {
		const struct kvm_mmio_fragment *frag = &a->mmio_fragments[a->mmio_cur_fragment];
		if (!a->mmio_is_write)
			memcpy(a->mmio_data + frag->offset, vcpu->run->mmio.data, frag->len);
		if (++a->mmio_cur_fragment < a->mmio_nr_fragments) {
			emulator_mmio_exit(vcpu);
			a->complete_userspace_io = complete_emulated_io;
			return 0;
		}
		a->mmio_needed = false;
		rerun = !a->mmio_is_write;
		a->mmio_read_completed = rerun;
	} else {
		return 1;
	}
	if (!rerun && !a->emulate_ctxt.restart)
		return 1;
	/* The flags may have changed in between (KVM_SET_REGS): run with the
	 * vCPU's. */
	a->emulate_ctxt.eflags = kvm_x86_ops.get_rflags(vcpu);
	return x86_emulate_instruction(vcpu, 0, EMULTYPE_NO_DECODE);
	// @end
}

int kvm_emulate_instruction(struct kvm_vcpu *vcpu, int emulation_type)
{
	return x86_emulate_instruction(vcpu, 0, emulation_type);
}

/*
 * #UD intercepted (from stage 07): the forced-emulation prefix before an
 * instruction has minikvm emulate it (Linux: handle_ud with
 * force_emulation_prefix); any other #UD is the guest's own and goes back
 * to it as it was.
 */
int kvm_handle_ud(struct kvm_vcpu *vcpu)
{
	struct kvm_segment cs;
	struct x86_exception fault;
	char sig[KVM_EMULATE_PREFIX_LEN];
	kvm_x86_ops.get_segment(vcpu, &cs, VCPU_SREG_CS);
	uint64_t la = is_64_bit_mode(vcpu) ? kvm_rip_read(vcpu) : (uint32_t)(cs.base + kvm_rip_read(vcpu));
	uint64_t access = PFERR_FETCH_MASK | (kvm_x86_ops.get_cpl(vcpu) == 3 ? PFERR_USER_MASK : 0);
	if (kvm_read_guest_virt(vcpu, la, sig, sizeof(sig), access, &fault) == X86EMUL_CONTINUE &&
	    !memcmp(sig, KVM_EMULATE_PREFIX, sizeof(sig))) {
		/* Past the prefix first: a fault the instruction raises is at
		 * the instruction, as it would be natively. */
		kvm_rip_write(vcpu, kvm_rip_read(vcpu) + KVM_EMULATE_PREFIX_LEN);
		return x86_emulate_instruction(vcpu, 0, EMULTYPE_TRAP_UD_FORCED);
	}
	kvm_queue_exception(vcpu, UD_VECTOR);
	return 1;
}

/* ---- port I/O exits (api.rst KVM_EXIT_IO) -------------------------------- */

static uint64_t kvm_get_linear_rip(struct kvm_vcpu *vcpu)
{
	struct kvm_segment cs;
	if (is_64_bit_mode(vcpu))
		return kvm_rip_read(vcpu);
	kvm_x86_ops.get_segment(vcpu, &cs, VCPU_SREG_CS);
	return (uint32_t)(cs.base + kvm_rip_read(vcpu));
}

/* IN AL/AX keep the rest of RAX; IN EAX zero-extends (SDM Vol. 1 3.4.1.1). */
static void kvm_pio_in_to_rax(struct kvm_vcpu *vcpu, int size, uint64_t val)
{
	uint64_t rax = kvm_register_read(vcpu, VCPU_REGS_RAX);
	if (size == 1)
		rax = (rax & ~0xffull) | (val & 0xff);
	else if (size == 2)
		rax = (rax & ~0xffffull) | (val & 0xffff);
	else
		rax = (uint32_t)val;
	kvm_register_write(vcpu, VCPU_REGS_RAX, rax);
}

static int complete_fast_pio_in(struct kvm_vcpu *vcpu)
{
	/* Userspace moved RIP away (KVM_SET_REGS): the IN is abandoned. */
	if (kvm_get_linear_rip(vcpu) != vcpu->arch.cui_linear_rip)
		return 1;
	const uint8_t *data = (const uint8_t *)vcpu->run + vcpu->run->io.data_offset;
	uint64_t val = 0;
	memcpy(&val, data, vcpu->arch.pio.size);
	kvm_pio_in_to_rax(vcpu, vcpu->arch.pio.size, val);
	return kvm_skip_emulated_instruction(vcpu);
}

static int complete_fast_pio_out(struct kvm_vcpu *vcpu)
{
	if (kvm_get_linear_rip(vcpu) != vcpu->arch.cui_linear_rip)
		return 1;
	return kvm_skip_emulated_instruction(vcpu);
}

static void kvm_prepare_pio(struct kvm_vcpu *vcpu, int size, uint16_t port, bool in, uint64_t value)
{
	struct kvm_run *run = vcpu->run;
	run->exit_reason = KVM_EXIT_IO;
	run->io.direction = in ? KVM_EXIT_IO_IN : KVM_EXIT_IO_OUT;
	run->io.size = (uint8_t)size;
	run->io.port = port;
	run->io.count = 1;
	run->io.data_offset = KVM_PIO_PAGE_OFFSET * KVM_PAGE_SIZE;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	memset(data, 0, 8);
	if (!in)
		memcpy(data, &value, (size_t)size);
}

int kvm_fast_pio(struct kvm_vcpu *vcpu, int size, uint16_t port, bool in)
{
	/* A port of an in-kernel device (lab 08: the PIC, the PIT) is served
	 * here, without leaving for userspace (Linux: kernel_pio). */
	if (LAB_ENABLED(8)) {
		uint64_t val = kvm_register_read(vcpu, VCPU_REGS_RAX);
		if (in && !kvm_io_bus_read(vcpu, KVM_PIO_BUS, port, size, &val)) {
			kvm_pio_in_to_rax(vcpu, size, val);
			return kvm_skip_emulated_instruction(vcpu);
		}
		if (!in && !kvm_io_bus_write(vcpu, KVM_PIO_BUS, port, size, &val))
			return kvm_skip_emulated_instruction(vcpu);
	}
	kvm_prepare_pio(vcpu, size, port, in, kvm_register_read(vcpu, VCPU_REGS_RAX));
	/* RIP stays on the instruction while userspace runs the access, as in
	 * Linux; the next KVM_RUN completes it, skipping the instruction with the
	 * exit's length, which no entry has replaced yet. */
	vcpu->arch.cui_linear_rip = kvm_get_linear_rip(vcpu);
	vcpu->arch.pio.size = (uint8_t)size;
	vcpu->arch.pio.in = in;
	vcpu->arch.complete_userspace_io = in ? complete_fast_pio_in : complete_fast_pio_out;
	return 0;
}

/* ---- HLT (Linux: kvm_emulate_halt, __kvm_emulate_halt) -------------------- */

// @region kvm_emulate_halt
int kvm_emulate_halt(struct kvm_vcpu *vcpu)
{
	int r = kvm_skip_emulated_instruction(vcpu);
	/* With an in-kernel irqchip (lab 08) an interrupt can wake the vCPU: it
	 * waits in minikvm (vcpu_run blocks it). Without one nothing could, so
	 * userspace decides. */
	if (LAB_ENABLED(8) && lapic_in_kernel(vcpu)) {
		vcpu->arch.mp_state = KVM_MP_STATE_HALTED;
		return r;
	}
	vcpu->run->exit_reason = KVM_EXIT_HLT;
	return 0;
}
// @end

static bool kvm_vcpu_running(struct kvm_vcpu *vcpu)
{
	return vcpu->arch.mp_state == KVM_MP_STATE_RUNNABLE;
}

uint64_t kvm_arch_vcpu_wake_time_ns(struct kvm_vcpu *vcpu)
{
	if (!LAB_ENABLED(8) || !lapic_in_kernel(vcpu))
		return UINT64_MAX;
	uint64_t t = kvm_lapic_next_event_ns(vcpu);
	/* The PIT's ticks reach the PIC, whose output goes to the BSP. */
	if (vcpu->vcpu_id == 0 && vcpu->kvm->arch.vpit) {
		uint64_t pit = kvm_pit_next_event_ns(vcpu->kvm);
		if (pit < t)
			t = pit;
	}
	return t;
}

/* Timers due now fire (Linux runs them from hrtimer callbacks; minikvm looks
 * at the clock before each entry and while a vCPU blocks), and the entry
 * learns when the next one is due. */
static void kvm_irqchip_timers(struct kvm_vcpu *vcpu)
{
	if (!LAB_ENABLED(8) || !lapic_in_kernel(vcpu)) {
		vcpu->arch.next_event_ns = UINT64_MAX;
		return;
	}
	kvm_lapic_check_timer(vcpu);
	if (vcpu->vcpu_id == 0 && vcpu->kvm->arch.vpit)
		kvm_pit_check_timer(vcpu->kvm);
	vcpu->arch.next_event_ns = kvm_arch_vcpu_wake_time_ns(vcpu);
}

/* May a vCPU that is not running go on (Linux: kvm_arch_vcpu_runnable,
 * kvm_vcpu_has_events)? A halted one when an interrupt it can take now, or an
 * NMI, is pending; any when INIT or SIPI waits for it. */
bool kvm_arch_vcpu_runnable(struct kvm_vcpu *vcpu)
{
	if (kvm_vcpu_running(vcpu))
		return true;
	if (!LAB_ENABLED(8) || !lapic_in_kernel(vcpu))
		return false;
	kvm_irqchip_timers(vcpu);
	// @lab 08 kvm_arch_vcpu_runnable: Wake for INIT/SIPI at any time; a halted vCPU for an NMI, or an interrupt it can take now (IF=1).
	lab_todo(8, "kvm_arch_vcpu_runnable");
	// @end
}

/* ---- hypercalls (guest_abi.h) ------------------------------------------- */

/* VMCALL with RAX = number, RBX = argument; RAX = result, as KVM's
 * kvm_emulate_hypercall(). PUTCHAR and EXIT leave as the KVM_EXIT_IO the
 * guest would have caused with OUT to the debug-console and debug-exit ports,
 * so a VMM serves them with the devices it already has. */
int kvm_emulate_hypercall(struct kvm_vcpu *vcpu)
{
	bool op64 = is_64_bit_mode(vcpu);
	uint64_t nr = kvm_register_read(vcpu, VCPU_REGS_RAX);
	uint64_t a0 = kvm_register_read(vcpu, VCPU_REGS_RBX);
	if (!op64) {
		nr = (uint32_t)nr;
		a0 = (uint32_t)a0;
	}
	int64_t ret;
	int r = 1;
	if (kvm_x86_ops.get_cpl(vcpu) != 0) {
		ret = -KVM_EPERM;
	} else {
		switch (nr) {
		case ABI_HC_PUTCHAR:
			ret = 0;
			kvm_prepare_pio(vcpu, 1, ABI_DEBUGCON_PORT, false, a0 & 0xff);
			r = 0;
			break;
		case ABI_HC_EXIT:
			ret = 0;
			kvm_prepare_pio(vcpu, 4, ABI_DEBUG_EXIT_PORT, false, a0 & 0xff);
			r = 0;
			break;
		case ABI_HC_ECHO:
			ret = (int64_t)(a0 ^ 0x5a5a5a5aull);
			break;
		default:
			ret = ABI_HC_UNKNOWN_ERR;
			break;
		}
	}
	kvm_register_write(vcpu, VCPU_REGS_RAX, op64 ? (uint64_t)ret : (uint32_t)ret);
	kvm_skip_emulated_instruction(vcpu);
	return r;
}

/* ---- MSRs (SDM Vol. 4) --------------------------------------------------- */

static const uint32_t msrs_to_save[] = {
	MSR_IA32_TSC, MSR_IA32_APICBASE, MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP,
	MSR_IA32_MISC_ENABLE, MSR_IA32_CR_PAT, MSR_EFER, MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_SYSCALL_MASK,
	MSR_FS_BASE, MSR_GS_BASE, MSR_KERNEL_GS_BASE, MSR_IA32_TSC_DEADLINE,
};

/* Memory types 2, 3 and above 7 are reserved (SDM Vol. 3 13.12.2). */
static bool pat_valid(uint64_t pat)
{
	for (int i = 0; i < 8; i++) {
		unsigned int t = (pat >> (8 * i)) & 0xff;
		if (t == 2 || t == 3 || t > 7)
			return false;
	}
	return true;
}

int kvm_get_msr_common(struct kvm_vcpu *vcpu, uint32_t index, uint64_t *data)
{
	struct kvm_vcpu_arch *a = &vcpu->arch;
	switch (index) {
	case MSR_IA32_TSC:          *data = kvm_read_l1_tsc(vcpu); return 0;
	case MSR_IA32_APICBASE:     *data = a->apic_base; return 0;
	case MSR_IA32_TSC_DEADLINE:
		if (!LAB_ENABLED(8) || !a->apic)
			return 1;
		*data = kvm_get_lapic_tscdeadline_msr(vcpu);
		return 0;
	case MSR_IA32_MISC_ENABLE:  *data = a->misc_enable; return 0;
	case MSR_IA32_CR_PAT:       *data = a->pat; return 0;
	case MSR_EFER:              *data = a->efer; return 0;
	case MSR_STAR:              *data = a->star; return 0;
	case MSR_LSTAR:             *data = a->lstar; return 0;
	case MSR_CSTAR:             *data = a->cstar; return 0;
	case MSR_SYSCALL_MASK:      *data = a->sfmask; return 0;
	case MSR_KERNEL_GS_BASE:    *data = a->kernel_gs_base; return 0;
	/* The microcode revision in bits 63:32 (SDM Vol. 3A 10.11.7.1): a
	 * made-up 1, as Linux KVM reports. Linux reads it at boot. */
	case MSR_IA32_UCODE_REV:    *data = 1ull << 32; return 0;
	default:                    return 1;
	}
}

/* The EFER bits a guest may set, and when (Linux: kvm_valid_efer, set_efer). */
static int kvm_set_efer(struct kvm_vcpu *vcpu, uint64_t efer)
{
	uint64_t old = vcpu->arch.efer;
	if (efer & ~(EFER_SCE | EFER_LME | EFER_LMA | EFER_NX))
		return 1;
	/* LME may not change while paging is on; LMA is the processor's to set. */
	if (is_paging(vcpu) && ((efer ^ old) & EFER_LME))
		return 1;
	efer = (efer & ~EFER_LMA) | (old & EFER_LMA);
	int r = kvm_x86_ops.set_efer(vcpu, efer);
	if (r)
		return r;
	/* NX and long mode change the paging structures' format. */
	if ((efer ^ old) & (EFER_NX | EFER_LMA | EFER_LME))
		kvm_mmu_reset_context(vcpu);
	return 0;
}

int kvm_set_msr_common(struct kvm_vcpu *vcpu, uint32_t index, uint64_t data)
{
	struct kvm_vcpu_arch *a = &vcpu->arch;
	switch (index) {
	case MSR_IA32_TSC:
		a->tsc_offset = data - rdtsc();
		kvm_x86_ops.set_tsc_offset(vcpu, a->tsc_offset);
		return 0;
	case MSR_IA32_APICBASE:
		a->apic_base = data;
		if (LAB_ENABLED(8) && a->apic)
			kvm_lapic_set_base(vcpu, data);
		return 0;
	case MSR_IA32_TSC_DEADLINE:
		if (!LAB_ENABLED(8) || !a->apic)
			return 1;
		kvm_set_lapic_tscdeadline_msr(vcpu, data);
		return 0;
	case MSR_IA32_MISC_ENABLE:
		a->misc_enable = data;
		return 0;
	case MSR_IA32_CR_PAT:
		if (!pat_valid(data))
			return 1;
		a->pat = data;
		return 0;
	case MSR_EFER:
		return kvm_set_efer(vcpu, data);
	case MSR_STAR:
		a->star = data;
		a->syscall_msrs_dirty = true;
		return 0;
	case MSR_LSTAR:
	case MSR_CSTAR:
	case MSR_KERNEL_GS_BASE:
		if (is_noncanonical_address(data))
			return 1;
		if (index == MSR_LSTAR)
			a->lstar = data;
		else if (index == MSR_CSTAR)
			a->cstar = data;
		else
			a->kernel_gs_base = data;
		a->syscall_msrs_dirty = true;
		return 0;
	case MSR_SYSCALL_MASK:
		a->sfmask = (uint32_t)data;
		a->syscall_msrs_dirty = true;
		return 0;
	case MSR_IA32_UCODE_REV:
		return 0; /* a write asks the processor to load the revision: nothing to do */
	default:
		return 1;
	}
}

/* The guest's TSC: the host's, offset by what the guest wrote to IA32_TSC
 * (Linux: kvm_read_l1_tsc; the VMCS's TSC offset is the same value). */
uint64_t kvm_read_l1_tsc(struct kvm_vcpu *vcpu)
{
	return rdtsc() + vcpu->arch.tsc_offset;
}

int kvm_get_msr(struct kvm_vcpu *vcpu, uint32_t index, uint64_t *data)
{
	return kvm_x86_ops.get_msr(vcpu, index, data);
}

int kvm_set_msr(struct kvm_vcpu *vcpu, uint32_t index, uint64_t data)
{
	return kvm_x86_ops.set_msr(vcpu, index, data);
}

/* KVM_GET_MSRS/KVM_SET_MSRS: the number of entries done, stopping at the first failure. */
static long kvm_vcpu_ioctl_msrs(struct kvm_vcpu *vcpu, struct kvm_msrs *msrs, bool set)
{
	if (msrs->nmsrs > 256)
		return -E2BIG;
	uint32_t i;
	for (i = 0; i < msrs->nmsrs; i++) {
		struct kvm_msr_entry *e = &msrs->entries[i];
		uint64_t data = e->data;
		int r = set ? kvm_set_msr(vcpu, e->index, data) : kvm_get_msr(vcpu, e->index, &data);
		if (r)
			break;
		e->data = data;
	}
	return i;
}

/* ---- control registers (Linux: kvm_set_cr0 and friends) ----------------- */
/* Each returns 0, or 1 when the guest's MOV must raise #GP. A change of
 * paging mode chooses the MMU context again (kvm_mmu_reset_context). */

/* The CR0 and CR4 bits whose change changes the MMU's mode (Linux:
 * KVM_MMU_CR0_ROLE_BITS, KVM_MMU_CR4_ROLE_BITS). */
#define KVM_MMU_CR0_ROLE_BITS (X86_CR0_PG | X86_CR0_WP)
#define KVM_MMU_CR4_ROLE_BITS (X86_CR4_PSE | X86_CR4_PAE | X86_CR4_PGE | X86_CR4_SMEP | X86_CR4_SMAP | \
			       X86_CR4_PKE | X86_CR4_LA57)

int kvm_set_cr0(struct kvm_vcpu *vcpu, uint64_t cr0)
{
	uint64_t old = kvm_read_cr0(vcpu);
	cr0 |= X86_CR0_ET;
	if (cr0 >> 32)
		return 1;
	if ((cr0 & X86_CR0_NW) && !(cr0 & X86_CR0_CD))
		return 1;
	if ((cr0 & X86_CR0_PG) && !(cr0 & X86_CR0_PE))
		return 1;
	/* Paging on with EFER.LME enters IA-32e mode: PAE first, and not from a
	 * 64-bit code segment (SDM Vol. 3 10.8.5). */
	if (!(old & X86_CR0_PG) && (cr0 & X86_CR0_PG) && (vcpu->arch.efer & EFER_LME)) {
		int db, l;
		if (!is_pae(vcpu))
			return 1;
		kvm_x86_ops.get_cs_db_l_bits(vcpu, &db, &l);
		if (l)
			return 1;
	}
	/* Turning on PAE paging loads the PDPTEs (SDM Vol. 3 4.4.1). */
	if (LAB_ENABLED(5) && !(old & X86_CR0_PG) && (cr0 & X86_CR0_PG) && is_pae(vcpu) &&
	    !(vcpu->arch.efer & EFER_LME) && !kvm_load_pdptrs(vcpu, kvm_read_cr3(vcpu)))
		return 1;
	kvm_x86_ops.set_cr0(vcpu, cr0);
	if ((cr0 ^ old) & KVM_MMU_CR0_ROLE_BITS)
		kvm_mmu_reset_context(vcpu);
	return 0;
}

int kvm_set_cr3(struct kvm_vcpu *vcpu, uint64_t cr3)
{
	if (!is_64_bit_mode(vcpu))
		cr3 = (uint32_t)cr3;
	/* PAE paging loads (and checks) its PDPTEs at every MOV to CR3. */
	if (LAB_ENABLED(5) && is_pae_paging(vcpu) && !kvm_load_pdptrs(vcpu, cr3))
		return 1;
	vcpu->arch.cr3 = cr3;
	kvm_mmu_new_pgd(vcpu, cr3);
	return 0;
}

/* The CR4 bits minikvm's guests may set: those whose features CPUID offers. */
#define KVM_CR4_GUEST_VALID (X86_CR4_VME | X86_CR4_PVI | X86_CR4_TSD | X86_CR4_DE | X86_CR4_PSE | \
			     X86_CR4_PAE | X86_CR4_MCE | X86_CR4_PGE | X86_CR4_PCE | X86_CR4_OSFXSR | \
			     X86_CR4_OSXMMEXCPT)

int kvm_set_cr4(struct kvm_vcpu *vcpu, uint64_t cr4)
{
	uint64_t old = kvm_read_cr4(vcpu);
	if (cr4 & ~KVM_CR4_GUEST_VALID)
		return 1; /* VMXE among them: no nested VMX */
	/* IA-32e mode needs PAE (SDM Vol. 3 10.8.5). */
	if (is_long_mode(vcpu) && !(cr4 & X86_CR4_PAE))
		return 1;
	/* With paging on outside IA-32e mode, a change of the bits that decide
	 * how PDPTEs are read loads them again (Linux: X86_CR4_PDPTR_BITS). */
	if (LAB_ENABLED(5) && is_paging(vcpu) && !is_long_mode(vcpu) && (cr4 & X86_CR4_PAE) &&
	    ((cr4 ^ old) & (X86_CR4_PGE | X86_CR4_PSE | X86_CR4_PAE)) && !kvm_load_pdptrs(vcpu, kvm_read_cr3(vcpu)))
		return 1;
	kvm_x86_ops.set_cr4(vcpu, cr4);
	if ((cr4 ^ old) & KVM_MMU_CR4_ROLE_BITS)
		kvm_mmu_reset_context(vcpu);
	return 0;
}

int kvm_set_cr8(struct kvm_vcpu *vcpu, uint64_t cr8)
{
	if (cr8 & ~X86_CR8_TPR_MASK)
		return 1;
	/* With an in-kernel LAPIC, CR8 is its TPR[7:4] (SDM Vol. 3A 11.8.6). */
	if (LAB_ENABLED(8) && vcpu->arch.apic)
		kvm_lapic_set_tpr(vcpu, cr8);
	else
		vcpu->arch.cr8 = cr8;
	return 0;
}

uint64_t kvm_get_cr8(struct kvm_vcpu *vcpu)
{
	if (LAB_ENABLED(8) && vcpu->arch.apic)
		return kvm_lapic_get_cr8(vcpu);
	return vcpu->arch.cr8;
}

void kvm_lmsw(struct kvm_vcpu *vcpu, uint16_t msw)
{
	/* LMSW loads CR0[3:0] but can set PE, never clear it (SDM Vol. 2A LMSW). */
	const uint64_t lmsw_bits = X86_CR0_PE | X86_CR0_MP | X86_CR0_EM | X86_CR0_TS;
	uint64_t cr0 = kvm_read_cr0(vcpu);
	kvm_set_cr0(vcpu, (cr0 & ~(lmsw_bits & ~X86_CR0_PE)) | (msw & lmsw_bits));
}

/* ---- vCPU state ioctls ----------------------------------------------------- */

static void kvm_get_regs(struct kvm_vcpu *vcpu, struct kvm_regs *r)
{
	const uint64_t *g = vcpu->arch.regs;
	*r = (struct kvm_regs){
		.rax = g[VCPU_REGS_RAX], .rbx = g[VCPU_REGS_RBX], .rcx = g[VCPU_REGS_RCX], .rdx = g[VCPU_REGS_RDX],
		.rsi = g[VCPU_REGS_RSI], .rdi = g[VCPU_REGS_RDI], .rsp = g[VCPU_REGS_RSP], .rbp = g[VCPU_REGS_RBP],
		.r8 = g[VCPU_REGS_R8], .r9 = g[VCPU_REGS_R9], .r10 = g[VCPU_REGS_R10], .r11 = g[VCPU_REGS_R11],
		.r12 = g[VCPU_REGS_R12], .r13 = g[VCPU_REGS_R13], .r14 = g[VCPU_REGS_R14], .r15 = g[VCPU_REGS_R15],
		.rip = g[VCPU_REGS_RIP], .rflags = kvm_x86_ops.get_rflags(vcpu),
	};
}

static void kvm_set_regs(struct kvm_vcpu *vcpu, const struct kvm_regs *r)
{
	uint64_t *g = vcpu->arch.regs;
	g[VCPU_REGS_RAX] = r->rax; g[VCPU_REGS_RBX] = r->rbx; g[VCPU_REGS_RCX] = r->rcx; g[VCPU_REGS_RDX] = r->rdx;
	g[VCPU_REGS_RSI] = r->rsi; g[VCPU_REGS_RDI] = r->rdi; g[VCPU_REGS_RSP] = r->rsp; g[VCPU_REGS_RBP] = r->rbp;
	g[VCPU_REGS_R8] = r->r8; g[VCPU_REGS_R9] = r->r9; g[VCPU_REGS_R10] = r->r10; g[VCPU_REGS_R11] = r->r11;
	g[VCPU_REGS_R12] = r->r12; g[VCPU_REGS_R13] = r->r13; g[VCPU_REGS_R14] = r->r14; g[VCPU_REGS_R15] = r->r15;
	g[VCPU_REGS_RIP] = r->rip;
	kvm_x86_ops.set_rflags(vcpu, r->rflags | X86_EFLAGS_FIXED);
	vcpu->arch.exception.pending = false;
}

static void kvm_get_sregs(struct kvm_vcpu *vcpu, struct kvm_sregs *s)
{
	struct kvm_segment *segs[VCPU_SREG_COUNT] = {
		[VCPU_SREG_ES] = &s->es, [VCPU_SREG_CS] = &s->cs, [VCPU_SREG_SS] = &s->ss, [VCPU_SREG_DS] = &s->ds,
		[VCPU_SREG_FS] = &s->fs, [VCPU_SREG_GS] = &s->gs, [VCPU_SREG_TR] = &s->tr, [VCPU_SREG_LDTR] = &s->ldt,
	};
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < VCPU_SREG_COUNT; i++)
		kvm_x86_ops.get_segment(vcpu, segs[i], i);
	struct desc_ptr dt;
	kvm_x86_ops.get_gdt(vcpu, &dt);
	s->gdt = (struct kvm_dtable){ .base = dt.base, .limit = dt.limit };
	kvm_x86_ops.get_idt(vcpu, &dt);
	s->idt = (struct kvm_dtable){ .base = dt.base, .limit = dt.limit };
	s->cr0 = kvm_read_cr0(vcpu);
	s->cr2 = vcpu->arch.cr2;
	s->cr3 = kvm_read_cr3(vcpu);
	s->cr4 = kvm_read_cr4(vcpu);
	s->cr8 = kvm_get_cr8(vcpu);
	s->efer = vcpu->arch.efer;
	s->apic_base = vcpu->arch.apic_base;
}

/* The consistency KVM demands of KVM_SET_SREGS (kvm_is_valid_sregs). */
static bool kvm_is_valid_sregs(const struct kvm_sregs *s)
{
	if ((s->efer & EFER_LME) && (s->cr0 & X86_CR0_PG)) {
		if (!(s->cr4 & X86_CR4_PAE) || !(s->efer & EFER_LMA))
			return false;
	} else if (s->efer & EFER_LMA) {
		return false;
	}
	return !(s->cr0 >> 32) && !((s->cr0 & X86_CR0_PG) && !(s->cr0 & X86_CR0_PE));
}

/* Linux: __set_sregs. The vendor gets the guest's values; the MMU context is
 * chosen again for the mode they describe. */
static int kvm_set_sregs(struct kvm_vcpu *vcpu, const struct kvm_sregs *s)
{
	const struct kvm_segment *segs[VCPU_SREG_COUNT] = {
		[VCPU_SREG_ES] = &s->es, [VCPU_SREG_CS] = &s->cs, [VCPU_SREG_SS] = &s->ss, [VCPU_SREG_DS] = &s->ds,
		[VCPU_SREG_FS] = &s->fs, [VCPU_SREG_GS] = &s->gs, [VCPU_SREG_TR] = &s->tr, [VCPU_SREG_LDTR] = &s->ldt,
	};
	if (!kvm_is_valid_sregs(s))
		return -EINVAL;
	for (int i = 0; i < VCPU_SREG_COUNT; i++)
		kvm_x86_ops.set_segment(vcpu, segs[i], i);
	struct desc_ptr dt = { .limit = s->gdt.limit, .base = s->gdt.base };
	kvm_x86_ops.set_gdt(vcpu, &dt);
	dt = (struct desc_ptr){ .limit = s->idt.limit, .base = s->idt.base };
	kvm_x86_ops.set_idt(vcpu, &dt);
	vcpu->arch.cr2 = s->cr2;
	vcpu->arch.cr3 = s->cr3;
	vcpu->arch.cr8 = s->cr8 & X86_CR8_TPR_MASK;
	vcpu->arch.apic_base = s->apic_base;
	/* EFER first: CR0.PG with LME set must find LMA already set. */
	int r = kvm_x86_ops.set_efer(vcpu, s->efer);
	if (r)
		return -EINVAL;
	kvm_x86_ops.set_cr0(vcpu, s->cr0);
	kvm_x86_ops.set_cr4(vcpu, s->cr4);
	/* Linux loads a PAE guest's PDPTEs from memory here too (__set_sregs_common). */
	if (LAB_ENABLED(5) && is_pae_paging(vcpu))
		kvm_load_pdptrs(vcpu, vcpu->arch.cr3);
	kvm_mmu_reset_context(vcpu);
	return 0;
}

int kvm_arch_vcpu_create(struct kvm_vcpu *vcpu)
{
	struct kvm_vcpu_arch *a = &vcpu->arch;
	int r = kvm_x86_ops.vcpu_create(vcpu);
	if (r < 0)
		return r;
	a->mmu = &a->root_mmu;
	/* With an in-kernel LAPIC only the BSP runs from reset; the others wait
	 * for INIT and a start-up IPI (SDM Vol. 3A 9.4; Linux: kvm_arch_vcpu_create). */
	a->mp_state = LAB_ENABLED(8) && irqchip_in_kernel(vcpu->kvm) && vcpu->vcpu_id != 0 ?
			      KVM_MP_STATE_UNINITIALIZED : KVM_MP_STATE_RUNNABLE;
	a->next_event_ns = UINT64_MAX;
	r = kvm_mmu_create(vcpu);
	if (r < 0)
		return r;
	if (LAB_ENABLED(8) && irqchip_in_kernel(vcpu->kvm)) {
		r = kvm_create_lapic(vcpu);
		if (r < 0)
			return r;
	}
	kvm_vcpu_reset(vcpu, false);
	return 0;
}

/*
 * The processor's state after RESET, or after INIT when init_event (SDM Vol. 3
 * 10.1.1, Table 10-1; Linux: kvm_vcpu_reset). INIT keeps IA32_APIC_BASE, PAT
 * and the other MSRs; both put the vCPU in real mode at F000:FFF0.
 */
void kvm_vcpu_reset(struct kvm_vcpu *vcpu, bool init_event)
{
	struct kvm_vcpu_arch *a = &vcpu->arch;
	if (!init_event) {
		a->apic_base = APIC_DEFAULT_PHYS_BASE | MSR_IA32_APICBASE_ENABLE |
			       (vcpu->vcpu_id == 0 ? MSR_IA32_APICBASE_BSP : 0);
		a->pat = MSR_IA32_CR_PAT_DEFAULT;
		a->misc_enable = MSR_IA32_MISC_ENABLE_BTS_UNAVAIL | MSR_IA32_MISC_ENABLE_PEBS_UNAVAIL;
	}
	if (a->apic)
		kvm_lapic_reset(vcpu, init_event);
	kvm_clear_event_queues(vcpu);
	a->exception.pending = false;
	a->nmi_pending = false;
	memset(a->regs, 0, sizeof(a->regs));
	a->cr2 = 0;
	a->regs[VCPU_REGS_RIP] = 0xfff0;
	a->regs[VCPU_REGS_RDX] = 0x600;   /* the processor signature, family 6 */
	kvm_x86_ops.set_rflags(vcpu, X86_EFLAGS_FIXED);
	struct kvm_sregs sregs = { 0 };
	struct kvm_segment data = { .limit = 0xffff, .type = 3, .present = 1, .s = 1 };
	sregs.cs = data;
	sregs.cs.type = 11;
	sregs.cs.selector = 0xf000;
	sregs.cs.base = 0xffff0000ull;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.ldt = (struct kvm_segment){ .limit = 0xffff, .type = 2, .present = 1 };
	sregs.tr = (struct kvm_segment){ .limit = 0xffff, .type = 11, .present = 1 };
	sregs.gdt.limit = sregs.idt.limit = 0xffff;
	sregs.cr0 = X86_CR0_ET | X86_CR0_NW | X86_CR0_CD;
	sregs.apic_base = a->apic_base;
	/* kvm_set_sregs() chooses the first MMU context too; a failure in the
	 * vendor is recorded there and ends the next KVM_RUN. */
	kvm_set_sregs(vcpu, &sregs);
}

void kvm_arch_vcpu_destroy(struct kvm_vcpu *vcpu)
{
	if (vcpu->arch.apic)
		kvm_free_lapic(vcpu);
	kvm_mmu_destroy(vcpu);
	kvm_x86_ops.vcpu_free(vcpu);
}

/* ---- the run loop (Linux: vcpu_enter_guest, vcpu_run) --------------------- */

// @region vcpu_enter_guest
static int vcpu_enter_guest(struct kvm_vcpu *vcpu)
{
	int r;
	if (kvm_request_pending(vcpu)) {
		if (kvm_check_request(KVM_REQ_TRIPLE_FAULT, vcpu)) {
			vcpu->run->exit_reason = KVM_EXIT_SHUTDOWN;
			return 0;
		}
		if (kvm_check_request(KVM_REQ_MMU_RELOAD, vcpu))
			kvm_mmu_unload(vcpu);
		if (kvm_check_request(KVM_REQ_TLB_FLUSH, vcpu))
			kvm_x86_ops.flush_tlb_all(vcpu);
		if (kvm_check_request(KVM_REQ_LOAD_MMU_PGD, vcpu))
			kvm_mmu_load_pgd(vcpu);
		/* KVM_REQ_EVENT: kvm_inject_events() below looks at every event. */
		kvm_check_request(KVM_REQ_EVENT, vcpu);
	}
	r = kvm_mmu_reload(vcpu);
	if (r <= 0)
		return r;
	kvm_irqchip_timers(vcpu);
	kvm_inject_events(vcpu);
	r = kvm_x86_ops.vcpu_run(vcpu);
	if (r <= 0) {
		kvm_x86_ops.cancel_injection(vcpu);
		return r;
	}
	vcpu->kvm->arch.stat.exits++;
	return kvm_x86_ops.handle_exit(vcpu);
}
// @end

/* A halted vCPU waits in the kernel for an event (lab 08), or until the slice ends. */
static int vcpu_block(struct kvm_vcpu *vcpu, uint64_t deadline)
{
	if (!kvm_vcpu_block(vcpu, deadline))
		return 1;  /* the slice is over: vcpu_run returns -EINTR */
	if (LAB_ENABLED(8) && lapic_in_kernel(vcpu))
		kvm_apic_accept_events(vcpu);
	if (vcpu->arch.mp_state == KVM_MP_STATE_HALTED)
		vcpu->arch.mp_state = KVM_MP_STATE_RUNNABLE;
	return 1;
}

/* Without an in-kernel irqchip the VMM injects interrupts itself (KVM_INTERRUPT)
 * and asks, with run->request_interrupt_window, to come back when the guest
 * can take one (Linux: dm_request_for_irq_injection,
 * kvm_vcpu_ready_for_interrupt_injection). */
static bool kvm_vcpu_ready_for_interrupt_injection(struct kvm_vcpu *vcpu)
{
	return !vcpu->arch.interrupt.injected && kvm_x86_ops.interrupt_allowed(vcpu);
}

static bool dm_request_for_irq_injection(struct kvm_vcpu *vcpu)
{
	return vcpu->run->request_interrupt_window && !(LAB_ENABLED(8) && irqchip_in_kernel(vcpu->kvm));
}

/* What the VMM reads after every KVM_RUN (Linux: post_kvm_run_save). */
static void post_kvm_run_save(struct kvm_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	run->if_flag = (kvm_x86_ops.get_rflags(vcpu) & X86_EFLAGS_IF) != 0;
	run->cr8 = kvm_get_cr8(vcpu);
	run->apic_base = vcpu->arch.apic_base;
	run->ready_for_interrupt_injection = (LAB_ENABLED(8) && irqchip_in_kernel(vcpu->kvm)) ||
					     kvm_vcpu_ready_for_interrupt_injection(vcpu);
}

static int vcpu_run(struct kvm_vcpu *vcpu)
{
	uint64_t deadline = host_clock_ns() + KVM_RUN_SLICE_NS;
	for (;;) {
		int r = kvm_vcpu_running(vcpu) ? vcpu_enter_guest(vcpu) : vcpu_block(vcpu, deadline);
		if (r <= 0)
			return r;
		/* The host's other threads (vCPUs, the VMM's supervisor) get their
		 * turn; a kick ends KVM_RUN as a signal does in Linux. */
		if (host_thread_preempt()) {
			vcpu->run->exit_reason = KVM_EXIT_INTR;
			return -EINTR;
		}
		if (dm_request_for_irq_injection(vcpu) && kvm_vcpu_ready_for_interrupt_injection(vcpu)) {
			vcpu->run->exit_reason = KVM_EXIT_IRQ_WINDOW_OPEN;
			return 0;
		}
		if (host_clock_ns() >= deadline) {
			vcpu->run->exit_reason = KVM_EXIT_INTR;
			return -EINTR;
		}
	}
}

static long kvm_arch_vcpu_ioctl_run(struct kvm_vcpu *vcpu, void *arg)
{
	if (arg)
		return -EINVAL;
	struct kvm_run *run = vcpu->run;
	int r = 1;
	if (vcpu->arch.complete_userspace_io) {
		int (*cui)(struct kvm_vcpu *) = vcpu->arch.complete_userspace_io;
		vcpu->arch.complete_userspace_io = NULL;
		r = cui(vcpu);
	}
	/* Each KVM_RUN, too, is a point where the host's other threads may take
	 * their turn (a guest that exits to the VMM all the time never runs
	 * vcpu_run's own loop for long). */
	if (r > 0 && (run->immediate_exit || host_thread_preempt())) {
		run->exit_reason = KVM_EXIT_INTR;
		r = -EINTR;
	} else if (r > 0) {
		run->exit_reason = KVM_EXIT_UNKNOWN;
		r = vcpu_run(vcpu);
	}
	post_kvm_run_save(vcpu);
	return r < 0 ? r : 0;
}

/* KVM_INTERRUPT (api.rst 4.16): the VMM's own interrupt controller hands an
 * external interrupt over, to be delivered at the next entry (it asked for an
 * interrupt window first). Refused with the in-kernel irqchip. */
static long kvm_vcpu_ioctl_interrupt(struct kvm_vcpu *vcpu, const struct kvm_interrupt *irq)
{
	if (irq->irq >= 256)
		return -EINVAL;
	if (LAB_ENABLED(8) && irqchip_in_kernel(vcpu->kvm))
		return -ENXIO;
	kvm_queue_interrupt(vcpu, (uint8_t)irq->irq, false);
	kvm_make_request(KVM_REQ_EVENT, vcpu);
	return 0;
}

/* KVM_SET_MP_STATE (api.rst 4.39): without an in-kernel LAPIC only RUNNABLE
 * makes sense, and HALTED for a vCPU the VMM blocks itself; with one, a vCPU
 * may also be set to wait for INIT or SIPI (Linux: kvm_arch_vcpu_ioctl_set_mpstate). */
static long kvm_arch_vcpu_ioctl_set_mpstate(struct kvm_vcpu *vcpu, const struct kvm_mp_state *mp)
{
	switch (mp->mp_state) {
	case KVM_MP_STATE_RUNNABLE:
	case KVM_MP_STATE_HALTED:
		break;
	case KVM_MP_STATE_UNINITIALIZED:
	case KVM_MP_STATE_INIT_RECEIVED:
		if (!LAB_ENABLED(8) || !vcpu->arch.apic)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	vcpu->arch.mp_state = mp->mp_state;
	return 0;
}

long kvm_arch_vcpu_ioctl(struct kvm_vcpu *vcpu, unsigned long request, void *arg)
{
	if (!arg && request != KVM_RUN && request != KVM_NMI)
		return -EFAULT;
	switch (request) {
	case KVM_RUN:
		return kvm_arch_vcpu_ioctl_run(vcpu, arg);
	case KVM_GET_REGS:
		kvm_get_regs(vcpu, arg);
		return 0;
	case KVM_SET_REGS:
		kvm_set_regs(vcpu, arg);
		return 0;
	case KVM_GET_SREGS:
		kvm_get_sregs(vcpu, arg);
		return 0;
	case KVM_SET_SREGS:
		return kvm_set_sregs(vcpu, arg);
	case KVM_GET_MSRS:
		return kvm_vcpu_ioctl_msrs(vcpu, arg, false);
	case KVM_SET_MSRS:
		return kvm_vcpu_ioctl_msrs(vcpu, arg, true);
	case KVM_SET_CPUID2:
		return kvm_vcpu_ioctl_set_cpuid2(vcpu, arg);
	case KVM_GET_CPUID2:
		return kvm_vcpu_ioctl_get_cpuid2(vcpu, arg);
	case KVM_GET_LAPIC:
	case KVM_SET_LAPIC:
		if (!LAB_ENABLED(8) || !vcpu->arch.apic)
			return -ENXIO;
		return request == KVM_GET_LAPIC ? kvm_apic_get_state(vcpu, arg) : kvm_apic_set_state(vcpu, arg);
	case KVM_GET_MP_STATE:
		((struct kvm_mp_state *)arg)->mp_state = vcpu->arch.mp_state;
		return 0;
	case KVM_SET_MP_STATE:
		return kvm_arch_vcpu_ioctl_set_mpstate(vcpu, arg);
	case KVM_INTERRUPT:
		return kvm_vcpu_ioctl_interrupt(vcpu, arg);
	case KVM_NMI:
		if (!LAB_ENABLED(8))
			return -ENOTTY;
		vcpu->arch.nmi_pending = true;
		return 0;
	case KVM_TRANSLATE: {
		/* Linux: kvm_arch_vcpu_ioctl_translate, a supervisor read. */
		struct kvm_translation *t = arg;
		struct x86_exception fault;
		gpa_t gpa = kvm_mmu_gva_to_gpa(vcpu, t->linear_address, 0, &fault);
		bool ok = gpa != INVALID_GPA;
		t->physical_address = gpa;
		t->valid = ok;
		t->writeable = ok;
		t->usermode = 0;
		return 0;
	}
	default:
		return -EINVAL; /* kvm_arch_vcpu_ioctl's default */
	}
}

/* ---- system and VM ioctls ---------------------------------------------------- */

long kvm_arch_dev_ioctl(unsigned long request, void *arg)
{
	switch (request) {
	case KVM_GET_SUPPORTED_CPUID:
		if (!arg)
			return -EFAULT;
		return kvm_dev_ioctl_get_supported_cpuid(arg);
	case KVM_GET_MSR_INDEX_LIST: {
		struct kvm_msr_list *list = arg;
		uint32_t n = ARRAY_SIZE(msrs_to_save);
		if (!list)
			return -EFAULT;
		bool fits = list->nmsrs >= n;
		list->nmsrs = n;
		if (!fits)
			return -E2BIG;
		memcpy(list->indices, msrs_to_save, sizeof(msrs_to_save));
		return 0;
	}
	default:
		return -EINVAL; /* kvm_arch_dev_ioctl's default */
	}
}

/* KVM_GET_IRQCHIP / KVM_SET_IRQCHIP (api.rst 4.26, 4.27): chip 0 the master
 * PIC, 1 the slave, 2 the IOAPIC. */
static long kvm_vm_ioctl_irqchip(struct kvm *kvm, struct kvm_irqchip *chip, bool set)
{
	if (!irqchip_in_kernel(kvm))
		return -ENXIO;
	switch (chip->chip_id) {
	case KVM_IRQCHIP_PIC_MASTER:
	case KVM_IRQCHIP_PIC_SLAVE:
		if (set)
			kvm_pic_set_state(kvm->arch.vpic, (int)chip->chip_id, &chip->chip.pic);
		else
			kvm_pic_get_state(kvm->arch.vpic, (int)chip->chip_id, &chip->chip.pic);
		return 0;
	case KVM_IRQCHIP_IOAPIC:
		if (set)
			kvm_set_ioapic(kvm, &chip->chip.ioapic);
		else
			kvm_get_ioapic(kvm, &chip->chip.ioapic);
		return 0;
	default:
		return -EINVAL;
	}
}

// @region kvm_arch_vm_ioctl
long kvm_arch_vm_ioctl(struct kvm *kvm, unsigned long request, void *arg)
{
	switch (request) {
	case KVM_SET_TSS_ADDR:
	case KVM_SET_IDENTITY_MAP_ADDR:
		/* Linux needs these for real mode without unrestricted guest; minikvm
		 * refuses real mode at this stage instead, so the addresses go unused. */
		return 0;
	/* The in-kernel irqchip is lab 08's: below stage 08 these requests do not
	 * exist, as in a KVM built without it. */
	case KVM_CREATE_IRQCHIP:
		if (!LAB_ENABLED(8))
			return -ENOTTY;
		return kvm_irqchip_create(kvm);
	case KVM_IRQ_LINE:
		if (!LAB_ENABLED(8))
			return -ENOTTY;
		if (!arg)
			return -EFAULT;
		return kvm_vm_ioctl_irq_line(kvm, arg);
	case KVM_GET_IRQCHIP:
	case KVM_SET_IRQCHIP:
		if (!LAB_ENABLED(8))
			return -ENOTTY;
		if (!arg)
			return -EFAULT;
		return kvm_vm_ioctl_irqchip(kvm, arg, request == KVM_SET_IRQCHIP);
	case KVM_CREATE_PIT2: {
		if (!LAB_ENABLED(8))
			return -ENOTTY;
		const struct kvm_pit_config *cfg = arg;
		if (!cfg)
			return -EFAULT;
		/* Linux: after the irqchip, once (api.rst 4.59). */
		if (kvm->arch.vpit)
			return -EEXIST;
		if (!irqchip_in_kernel(kvm))
			return -ENOENT;
		return kvm_create_pit(kvm, cfg->flags) ? 0 : -ENOMEM;
	}
	case KVM_GET_PIT2:
	case KVM_SET_PIT2:
		if (!LAB_ENABLED(8))
			return -ENOTTY;
		if (!arg)
			return -EFAULT;
		if (!kvm->arch.vpit)
			return -ENXIO;
		if (request == KVM_GET_PIT2)
			kvm_pit_get_state(kvm, arg);
		else
			kvm_pit_set_state(kvm, arg);
		return 0;
	case KVM_SIGNAL_MSI:
		if (!LAB_ENABLED(8))
			return -ENOTTY;
		if (!arg)
			return -EFAULT;
		if (!irqchip_in_kernel(kvm))
			return -ENXIO;
		return kvm_set_msi(kvm, arg);
	default:
		return -ENOTTY; /* kvm_arch_vm_ioctl's default */
	}
}
// @end

int kvm_vm_ioctl_check_extension(struct kvm *kvm, long cap)
{
	(void)kvm;
	switch (cap) {
	case KVM_CAP_EXT_CPUID:
	case KVM_CAP_INTERNAL_ERROR_DATA:
		return 1;
	case KVM_CAP_IRQCHIP:
	case KVM_CAP_PIT2:
	case KVM_CAP_SIGNAL_MSI:
	case KVM_CAP_MP_STATE:
		return LAB_ENABLED(8) && kvm_irqchip_supported();
	default:
		/* IRQFD, IOEVENTFD, MP_STATE, XSAVE, ... arrive in later labs. */
		return 0;
	}
}
