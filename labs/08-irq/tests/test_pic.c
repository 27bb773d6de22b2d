/* SPDX-License-Identifier: MIT */
/*
 * The 8259A PIC pair (kvm/i8259.c), driven as a guest drives it: through
 * its ports on the I/O bus (0x20/0x21, 0xa0/0xa1, ELCR at 0x4d0/0x4d1), the
 * pins (kvm_pic_set_irq) and the processor's INTA (kvm_pic_read_irq). The
 * programming is the one Linux's init_8259A() and the BIOS do; the
 * priority cases are the 8259A datasheet's (Intel order no. 231468):
 * fully nested mode, rotation, special mask, special fully nested mode,
 * cascade, masking, the spurious IR7.
 *
 * Every failure message shows the sequence the test ran (port writes,
 * lines, INTAs), what was read and what the datasheet says.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fake_irq_host.h"
#include "kvm/irq.h"
#include "lab08_tests.h"

static struct kvm *kvm;
static struct kvm_pic *pic;
static char seq[4096];   /* what the test did so far, for the messages */

static void note(const char *fmt, ...)
{
	size_t n = strlen(seq);
	if (n + 80 >= sizeof(seq))
		return;
	if (n)
		seq[n++] = ' ';
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(seq + n, sizeof(seq) - n, fmt, ap);
	va_end(ap);
}

#define expect(actual, expected, section, ...)                                                        \
	do {                                                                                          \
		long a_ = (long)(actual), e_ = (long)(expected);                                      \
		if (a_ != e_) {                                                                       \
			char what_[256];                                                              \
			snprintf(what_, sizeof(what_), __VA_ARGS__);                                  \
			ck_abort_msg("%s: 0x%lx, expected 0x%lx\n  after: %s\n  (8259A datasheet: %s)", \
				     what_, a_, e_, seq, section);                                     \
		}                                                                                     \
	} while (0)

static void setup(void)
{
	fake_irq_reset();
	seq[0] = 0;
	kvm = fake_irq_vm(1);
	pic = kvm_create_pic(kvm);
	ck_assert_msg(pic, "kvm_create_pic() returned NULL");
	kvm->arch.vpic = pic;
}

static void teardown(void)
{
	if (kvm->arch.vpic)
		kvm_destroy_pic(kvm->arch.vpic);
	fake_irq_vm_free(kvm);
}

static struct kvm_io_device *pio_dev(uint16_t port)
{
	return fake_irq_bus_dev(kvm, KVM_PIO_BUS, port);
}

static void guest_out(uint16_t port, uint8_t val)
{
	note("out %#x,%#04x;", port, val);
	struct kvm_io_device *dev = pio_dev(port);
	ck_assert_msg(dev, "no device on port %#x: kvm_create_pic() registers 0x20, 0xa0 and 0x4d0 (two ports each)",
		      port);
	int r = dev->ops->write(kvm->vcpus[0], dev, port, 1, &val);
	ck_assert_msg(r == 0, "the write of %#04x to port %#x returned %d, expected 0 (the PIC takes it)", val, port, r);
}

static uint8_t guest_in(uint16_t port)
{
	struct kvm_io_device *dev = pio_dev(port);
	ck_assert_msg(dev, "no device on port %#x: kvm_create_pic() registers 0x20, 0xa0 and 0x4d0 (two ports each)",
		      port);
	uint8_t val = 0xee;
	int r = dev->ops->read(kvm->vcpus[0], dev, port, 1, &val);
	ck_assert_msg(r == 0, "the read of port %#x returned %d, expected 0 (the PIC takes it)", port, r);
	note("in %#x=%#04x;", port, val);
	return val;
}

static int line(int irq, int level)
{
	note("IRQ%d %s;", irq, level ? "high" : "low");
	return kvm_pic_set_irq(pic, irq, level);
}

/* An edge: what the PIT and most ISA devices do. */
static void pulse(int irq)
{
	note("IRQ%d edge;", irq);
	kvm_pic_set_irq(pic, irq, 1);
	kvm_pic_set_irq(pic, irq, 0);
}

static int inta(void)
{
	int v = kvm_pic_read_irq(kvm);
	note("INTA=%#x;", v);
	return v;
}

/* Linux's init_8259A() (arch/x86/kernel/i8259.c): ICW1 0x11 (edge, cascade,
 * ICW4 follows), ICW2 the vector base, ICW3 the cascade on IR2 (master:
 * bit 2; slave: its ID 2), ICW4 0x01 (8086 mode) or 0x03 (AEOI). */
static void init_pair_with(uint8_t master_base, uint8_t slave_base, uint8_t icw4_master, uint8_t icw4_slave)
{
	guest_out(0x20, 0x11);
	guest_out(0x21, master_base);
	guest_out(0x21, 0x04);
	guest_out(0x21, icw4_master);
	guest_out(0xa0, 0x11);
	guest_out(0xa1, slave_base);
	guest_out(0xa1, 0x02);
	guest_out(0xa1, icw4_slave);
}

static void init_pair(void)
{
	init_pair_with(0x30, 0x38, 0x01, 0x01);
}

#define OCW2_EOI          0x20
#define OCW2_SPECIFIC_EOI 0x60
#define OCW2_ROTATE_EOI   0xa0
#define OCW2_ROTATE_SPECIFIC_EOI 0xe0
#define OCW2_SET_PRIORITY 0xc0
#define OCW2_SET_ROTATE_AEOI   0x80
#define OCW2_CLEAR_ROTATE_AEOI 0x00
#define OCW3_READ_IRR     0x0a
#define OCW3_READ_ISR     0x0b
#define OCW3_POLL         0x0c
#define OCW3_SET_SMM      0x68
#define OCW3_RESET_SMM    0x48

/* ---- the chip on the bus ------------------------------------------------------ */

START_TEST(ex1_pic_registers_its_ports)
{
	static const struct { uint16_t port; int len; const char *what; } want[] = {
		{ 0x20, 2, "the master's command and data ports" },
		{ 0xa0, 2, "the slave's" },
		{ 0x4d0, 2, "the ELCR pair" },
	};
	struct kvm_io_bus *bus = &kvm->buses[KVM_PIO_BUS];
	ck_assert_msg(bus->dev_count == 3, "kvm_create_pic() registered %d devices on KVM_PIO_BUS, expected 3 (master, "
		      "slave, ELCR)", bus->dev_count);
	for (unsigned i = 0; i < 3; i++) {
		bool found = false;
		for (int j = 0; j < bus->dev_count; j++)
			found |= bus->range[j].addr == want[i].port && bus->range[j].len == want[i].len;
		ck_assert_msg(found, "no device at port %#x, length %d (%s)", want[i].port, want[i].len, want[i].what);
	}
	ck_assert_msg(pic->pics[0].elcr_mask == 0xf8 && pic->pics[1].elcr_mask == 0xde,
		      "elcr_mask %#x/%#x, expected 0xf8/0xde: IRQ0-2, 8 and 13 are edge-only on a PC (Linux's masks)",
		      pic->pics[0].elcr_mask, pic->pics[1].elcr_mask);
	/* A port the device does not own is someone else's. */
	struct kvm_io_device *master = pio_dev(0x20);
	uint8_t v = 0;
	ck_assert_msg(master->ops->write(kvm->vcpus[0], master, 0x22, 1, &v) == -EOPNOTSUPP,
		      "the master's device took a write to port 0x22: it must answer -EOPNOTSUPP for ports not its own");
	kvm_destroy_pic(pic);
	kvm->arch.vpic = NULL;
	ck_assert_msg(bus->dev_count == 0, "kvm_destroy_pic() left %d devices on the bus", bus->dev_count);
}
END_TEST

/* ---- exercise 1: programming (ICW1-4, OCW1, OCW3 reads) -------------------------- */

START_TEST(ex1_linux_init_sequence)
{
	init_pair();
	expect(pic->pics[0].init_state, 0, "Initialization Command Words", "master: init_state after ICW1-ICW4");
	expect(pic->pics[1].init_state, 0, "Initialization Command Words", "slave: init_state after ICW1-ICW4");
	expect(pic->pics[0].irq_base, 0x30, "ICW2", "master: vector base from ICW2");
	expect(pic->pics[1].irq_base, 0x38, "ICW2", "slave: vector base from ICW2");
	expect(pic->pics[0].auto_eoi, 0, "ICW4", "master: ICW4 0x01 leaves AEOI off");
	/* Now port 1 is OCW1, the mask. */
	guest_out(0x21, 0xfb);
	guest_out(0xa1, 0xff);
	expect(guest_in(0x21), 0xfb, "OCW1", "reading port 0x21 gives the IMR written");
	expect(guest_in(0xa1), 0xff, "OCW1", "reading port 0xa1 gives the slave's IMR");
	guest_out(0x21, 0x00);
	guest_out(0xa1, 0x00);
	pulse(1);
	expect(pic->output, 1, "Interrupt Sequence", "INTR after an edge on IRQ1");
	expect(inta(), 0x31, "ICW2: T7-T3 from ICW2, the input's number in the low 3 bits", "the vector of IRQ1");
	guest_out(0x20, OCW2_EOI);
	pulse(12);
	expect(inta(), 0x3c, "ICW2, Cascade Mode", "the vector of IRQ12 (the slave's IR4)");
}
END_TEST

START_TEST(ex1_bios_vector_bases)
{
	/* The PC BIOS's bases: IRQ0-7 at 0x08, IRQ8-15 at 0x70. Bits 2:0 of
	 * ICW2 are not the base's: the input's number goes there. */
	init_pair_with(0x08, 0x77, 0x01, 0x01);
	pulse(0);
	expect(inta(), 0x08, "ICW2", "IRQ0 with ICW2 0x08");
	guest_out(0x20, OCW2_EOI);
	pulse(15);
	expect(inta(), 0x77, "ICW2: only T7-T3 are kept (0x77 -> base 0x70)", "IRQ15 with ICW2 0x77");
}
END_TEST

START_TEST(ex1_icw1_without_icw4)
{
	guest_out(0x20, 0x10);          /* ICW1, IC4 = 0 */
	guest_out(0x21, 0x40);          /* ICW2 */
	guest_out(0x21, 0x04);          /* ICW3 */
	expect(pic->pics[0].init_state, 0, "ICW1 IC4: no ICW4 follows",
	       "init_state after ICW1 (IC4=0), ICW2, ICW3: no ICW4 is expected");
	guest_out(0x21, 0x5a);          /* so this is OCW1 */
	expect(guest_in(0x21), 0x5a, "ICW1 IC4", "the port-1 write after ICW3 is OCW1 (the IMR) when ICW1 had IC4 clear");
	/* ICW4's modes are cleared by an ICW1 without IC4. */
	guest_out(0x20, 0x11);
	guest_out(0x21, 0x40);
	guest_out(0x21, 0x04);
	guest_out(0x21, 0x03);          /* AEOI */
	guest_out(0x20, 0x10);
	guest_out(0x21, 0x40);
	guest_out(0x21, 0x04);
	expect(pic->pics[0].auto_eoi, 0, "ICW1: if IC4 = 0, all functions selected in ICW4 are set to zero",
	       "auto_eoi after a new ICW1 without IC4");
}
END_TEST

START_TEST(ex1_icw1_resets_the_chip)
{
	init_pair();
	guest_out(0x4d0, 0x20);         /* IRQ5 level */
	guest_out(0x21, 0x80);
	line(5, 1);
	pulse(3);
	pulse(4);
	expect(inta(), 0x33, "Interrupt Sequence", "INTA with IRQ3, 4, 5 requested");
	guest_out(0x20, OCW3_READ_ISR);
	guest_out(0x20, OCW3_SET_SMM);
	guest_out(0x20, OCW2_SET_PRIORITY | 1);
	/* Re-initialize the master. */
	guest_out(0x20, 0x11);
	expect(pic->pics[0].imr, 0, "ICW1 b: the Interrupt Mask Register is cleared", "IMR after ICW1");
	expect(pic->pics[0].isr, 0, "ICW1", "ISR after ICW1");
	expect(pic->pics[0].priority_add, 0, "ICW1 c: IR7 input is assigned priority 7", "priority_add after ICW1");
	expect(pic->pics[0].special_mask, 0, "ICW1 e: Special Mask Mode is cleared", "special_mask after ICW1");
	expect(pic->pics[0].read_reg_select, 0, "ICW1 e: Status Read is set to IRR", "read_reg_select after ICW1");
	expect(pic->pics[0].irr, 0x20, "ICW1 a: the edge sense circuit is reset (edge requests go; a level line "
	       "still high still requests)", "IRR after ICW1 with edge IRQ4 and level IRQ5 pending");
	expect(pic->pics[0].init_state, 1, "Initialization Command Words", "init_state after ICW1 (ICW2 next)");
	guest_out(0x21, 0x30);
	guest_out(0x21, 0x04);
	guest_out(0x21, 0x01);
	expect(inta(), 0x35, "ICW1", "INTA after re-initialization: only the level IRQ5 is still requested");
}
END_TEST

START_TEST(ex1_read_irr_and_isr)
{
	init_pair();
	pulse(3);
	pulse(6);
	expect(guest_in(0x20), 0x48, "OCW3: IRR is read until RR selects otherwise (ICW1 sets it)", "port 0x20 read "
	       "after initialization, IRQ3 and IRQ6 requested");
	inta();
	guest_out(0x20, OCW3_READ_ISR);
	expect(guest_in(0x20), 0x08, "OCW3 RR=1 RIS=1: read the ISR", "port 0x20 after OCW3 0x0b");
	expect(guest_in(0x20), 0x08, "OCW3: the selection stays until the next OCW3 with RR=1", "port 0x20 read again");
	guest_out(0x20, 0x08);          /* OCW3 with RR = 0: no change */
	expect(guest_in(0x20), 0x08, "OCW3 RR=0: no action on the read register", "port 0x20 after OCW3 0x08");
	guest_out(0x20, OCW3_READ_IRR);
	expect(guest_in(0x20), 0x40, "OCW3 RR=1 RIS=0: read the IRR", "port 0x20 after OCW3 0x0a (IRQ3 taken)");
	expect(guest_in(0x21), 0x00, "OCW1: port 1 reads the IMR", "port 0x21");
}
END_TEST

START_TEST(ex1_poll_command)
{
	init_pair();
	guest_out(0x20, OCW3_POLL);
	expect(guest_in(0x20), 0x00, "The Poll Command: I (bit 7) = 0 when no request", "poll with nothing requested");
	pulse(5);
	pulse(6);
	guest_out(0x20, OCW3_POLL);
	expect(guest_in(0x20), 0x85, "The Poll Command: 1000 0WWW, W2-W0 the highest-priority request",
	       "poll with IRQ5 and IRQ6 requested");
	expect(pic->pics[0].isr, 0x20, "The Poll Command: the read acts as INTA (IS bit set)", "ISR after the poll");
	expect(pic->pics[0].poll, 0, "The Poll Command: one read per poll command", "poll after its read");
	expect(guest_in(0x20), 0x40, "OCW3", "the next read of port 0x20 (not a poll: IRR)");
	guest_out(0x20, OCW2_EOI);
	guest_out(0x20, OCW3_POLL);
	expect(guest_in(0x20), 0x86, "The Poll Command", "poll after the EOI of IRQ5");
}
END_TEST

START_TEST(ex1_elcr_ports)
{
	guest_out(0x4d0, 0xff);
	guest_out(0x4d1, 0xff);
	expect(guest_in(0x4d0), 0xf8, "ELCR (PIIX4 4.1.10): IRQ0-2 are edge", "port 0x4d0 after writing 0xff");
	expect(guest_in(0x4d1), 0xde, "ELCR: IRQ8 and IRQ13 are edge", "port 0x4d1 after writing 0xff");
}
END_TEST

/* ---- exercise 1: priority resolution --------------------------------------------- */

struct prio_case {
	const char *what;
	uint8_t priority_add, irr, imr, isr, special_mask;
	int irq;   /* the input INTA must give, -1: none (INTR low, spurious IR7) */
	const char *section;
};

static const struct prio_case prio_cases[] = {
	{ "fully nested: IR3 and IR5 requested", 0, 0x28, 0, 0, 0, 3, "Fully Nested Mode" },
	{ "IR0 is the highest after initialization", 0, 0x81, 0, 0, 0, 0, "Fully Nested Mode" },
	{ "IR7 alone", 0, 0x80, 0, 0, 0, 7, "Fully Nested Mode" },
	{ "IR3 masked: IR5", 0, 0x28, 0x08, 0, 0, 5, "Interrupt Mask Register" },
	{ "all masked", 0, 0xff, 0xff, 0, 0, -1, "Interrupt Mask Register" },
	{ "nothing requested", 0, 0, 0, 0, 0, -1, "Interrupt Sequence" },
	{ "IR5 waits while IR3 is in service", 0, 0x20, 0, 0x08, 0, -1, "Fully Nested Mode" },
	{ "IR1 interrupts IR3 in service", 0, 0x02, 0, 0x08, 0, 1, "Fully Nested Mode" },
	{ "IR3 again while IR3 is in service waits", 0, 0x08, 0, 0x08, 0, -1, "Fully Nested Mode" },
	{ "IR1 and IR3 in service, IR2 requested: waits for IR1's EOI", 0, 0x04, 0, 0x0a, 0, -1, "Fully Nested Mode" },
	{ "rotated, IR4 highest: IR5 before IR3", 4, 0x28, 0, 0, 0, 5, "Priority Rotation" },
	{ "rotated, IR4 highest: IR0 (priority 4) before IR3 (priority 7)", 4, 0x09, 0, 0, 0, 0, "Priority Rotation" },
	{ "rotated, IR6 highest: IR7 before IR0", 6, 0x81, 0, 0, 0, 7, "Priority Rotation" },
	{ "rotated, IR1 highest: IR0 is the lowest", 1, 0x41, 0, 0, 0, 6, "Priority Rotation" },
	{ "rotated, IR4 highest: IR7 in service blocks IR3", 4, 0x08, 0, 0x80, 0, -1, "Priority Rotation" },
	{ "rotated, IR4 highest: IR3 in service (the lowest) lets IR7 through", 4, 0x80, 0, 0x08, 0, 7,
	  "Priority Rotation" },
	{ "special mask: IR3 in service and masked lets IR5 through", 0, 0x20, 0x08, 0x08, 1, 5, "Special Mask Mode" },
	{ "no special mask: IR3 in service and masked still blocks IR5", 0, 0x20, 0x08, 0x08, 0, -1,
	  "Special Mask Mode" },
	{ "special mask: an unmasked input in service still blocks lower ones", 0, 0x20, 0x00, 0x08, 1, -1,
	  "Special Mask Mode" },
	{ "special mask: masked IR3 in service, IR3 requested again stays masked", 0, 0x08, 0x08, 0x08, 1, -1,
	  "Special Mask Mode" },
};

START_TEST(ex1_priority)
{
	const struct prio_case *c = &prio_cases[_i];
	init_pair();
	struct kvm_pic_state st;
	kvm_pic_get_state(pic, 0, &st);
	st.priority_add = c->priority_add;
	st.irr = c->irr;
	st.last_irr = 0;
	st.imr = c->imr;
	st.isr = c->isr;
	st.special_mask = c->special_mask;
	kvm_pic_set_state(pic, 0, &st);
	note("state: priority_add %u IRR %#04x IMR %#04x ISR %#04x special mask %u;", c->priority_add, c->irr, c->imr,
	     c->isr, c->special_mask);
	expect(pic->output, c->irq >= 0, c->section, "%s: INTR", c->what);
	int vector = inta();
	if (c->irq >= 0) {
		expect(vector, 0x30 + c->irq, c->section, "%s: the vector", c->what);
		expect(pic->pics[0].isr & (1u << c->irq), 1u << c->irq, c->section,
		       "%s: ISR bit %d after INTA", c->what, c->irq);
	} else {
		expect(vector, 0x37, "Interrupt Sequence: no request at INTA gives IR7's vector", "%s: the vector",
		       c->what);
		expect(pic->pics[0].isr, c->isr, "Interrupt Sequence: a spurious IR7 sets no ISR bit",
		       "%s: ISR after the spurious INTA", c->what);
	}
}
END_TEST

START_TEST(ex1_nested_sequence)
{
	init_pair();
	pulse(5);
	expect(inta(), 0x35, "Fully Nested Mode", "the first INTA");
	pulse(6);
	expect(pic->output, 0, "Fully Nested Mode: IR6 waits while IR5 is served", "INTR with IR5 in service");
	pulse(1);
	expect(pic->output, 1, "Fully Nested Mode: a higher priority interrupts", "INTR with IR5 in service, IR1 new");
	expect(inta(), 0x31, "Fully Nested Mode", "the nested INTA");
	expect(pic->pics[0].isr, 0x22, "Fully Nested Mode", "ISR with IR1 nested in IR5");
	guest_out(0x20, OCW2_EOI);
	expect(pic->pics[0].isr, 0x20, "OCW2 non-specific EOI: resets the highest priority ISR bit",
	       "ISR after one non-specific EOI");
	expect(pic->output, 0, "Fully Nested Mode", "INTR with IR5 still in service, IR6 requested");
	guest_out(0x20, OCW2_EOI);
	expect(pic->output, 1, "Fully Nested Mode", "INTR once IR5 ended, IR6 requested");
	expect(inta(), 0x36, "Fully Nested Mode", "the last INTA");
}
END_TEST

/* ---- exercise 1: EOI and rotation commands (OCW2) -------------------------------- */

START_TEST(ex1_specific_eoi)
{
	init_pair();
	pulse(5);
	inta();
	pulse(1);
	inta();
	guest_out(0x20, OCW2_SPECIFIC_EOI | 5);
	expect(pic->pics[0].isr, 0x02, "OCW2 011: specific EOI resets the ISR bit L2-L0, whatever its priority",
	       "ISR after a specific EOI of IR5 with IR1 and IR5 in service");
	guest_out(0x20, OCW2_SPECIFIC_EOI | 1);
	expect(pic->pics[0].isr, 0x00, "OCW2 011", "ISR after a specific EOI of IR1");
	guest_out(0x20, 0x40);          /* OCW2 010: no operation */
	expect(pic->pics[0].priority_add, 0, "OCW2 010: no operation", "priority_add after OCW2 0x40");
}
END_TEST

START_TEST(ex1_rotate_on_eoi)
{
	init_pair();
	pulse(3);
	inta();
	guest_out(0x20, OCW2_ROTATE_EOI);
	expect(pic->pics[0].isr, 0, "OCW2 101: rotate on non-specific EOI", "ISR after it");
	expect(pic->pics[0].priority_add, 4, "OCW2 101: the input just served becomes the lowest (IR4 the highest)",
	       "priority_add after rotate on non-specific EOI of IR3");
	pulse(3);
	pulse(5);
	expect(inta(), 0x35, "Priority Rotation", "INTA with IR3 and IR5 after IR3 rotated to the bottom");
	guest_out(0x20, OCW2_ROTATE_SPECIFIC_EOI | 5);
	expect(pic->pics[0].priority_add, 6, "OCW2 111: rotate on specific EOI", "priority_add after 0xe5");
	expect(inta(), 0x33, "Priority Rotation", "INTA for the remaining IR3");
	guest_out(0x20, OCW2_SET_PRIORITY | 2);
	expect(pic->pics[0].priority_add, 3, "OCW2 110: set priority (L2-L0 the lowest)", "priority_add after 0xc2");
	expect(pic->pics[0].isr, 0x08, "OCW2 110: set priority is no EOI", "ISR after set priority");
	guest_out(0x20, OCW2_EOI);
	pulse(0);
	pulse(4);
	expect(inta(), 0x34, "Priority Rotation: with IR2 the lowest, IR3 is the highest", "INTA with IR0 and IR4");
}
END_TEST

/* ---- exercise 1: AEOI -------------------------------------------------------------- */

START_TEST(ex1_auto_eoi)
{
	init_pair_with(0x30, 0x38, 0x03, 0x01);
	expect(pic->pics[0].auto_eoi, 1, "ICW4 AEOI (bit 1)", "auto_eoi after ICW4 0x03");
	pulse(4);
	expect(inta(), 0x34, "Automatic End of Interrupt Mode", "the vector");
	expect(pic->pics[0].isr, 0, "Automatic End of Interrupt Mode: the ISR bit is reset at the end of INTA",
	       "ISR after INTA in AEOI mode");
	pulse(6);
	expect(pic->output, 1, "Automatic End of Interrupt Mode: no EOI needed", "INTR for IR6 right after IR4");
	expect(inta(), 0x36, "Automatic End of Interrupt Mode", "the next vector");
	guest_out(0x20, OCW2_SET_ROTATE_AEOI);
	expect(pic->pics[0].rotate_on_auto_eoi, 1, "OCW2 100: set rotate in AEOI mode", "rotate_on_auto_eoi");
	pulse(3);
	inta();
	expect(pic->pics[0].priority_add, 4, "Automatic Rotation: the input just served becomes the lowest",
	       "priority_add after INTA of IR3 with rotate in AEOI");
	guest_out(0x20, OCW2_CLEAR_ROTATE_AEOI);
	expect(pic->pics[0].rotate_on_auto_eoi, 0, "OCW2 000: clear rotate in AEOI mode", "rotate_on_auto_eoi");
}
END_TEST

/* ---- exercise 1: edge and level ---------------------------------------------------- */

START_TEST(ex1_edge_triggered)
{
	init_pair();
	expect(line(3, 1), 1, "Edge Triggered Mode", "kvm_pic_set_irq(3, 1) on an idle edge pin (a new request)");
	line(3, 0);
	expect(line(3, 1), 0, "Edge Triggered Mode: one IRR bit per input; KVM_IRQ_LINE_STATUS 0 = coalesced",
	       "kvm_pic_set_irq(3, 1): a second edge before INTA");
	inta();
	expect(pic->pics[0].irr & 0x08, 0, "Interrupt Sequence: INTA clears the edge request", "IRR bit 3");
	guest_out(0x20, OCW2_EOI);
	expect(pic->output, 0, "Edge Triggered Mode: the line still high is no new edge", "INTR after EOI");
	line(3, 1);
	expect(pic->output, 0, "Edge Triggered Mode: only a low-to-high transition latches (last_irr)",
	       "INTR after the line, already high, was set high again");
	line(3, 0);
	line(3, 1);
	expect(pic->output, 1, "Edge Triggered Mode: low then high is a new request", "INTR");
	line(3, 0);
	expect(pic->output, 1, "Edge Triggered Mode: the edge is latched in IRR", "INTR after the line dropped");
}
END_TEST

START_TEST(ex1_level_triggered)
{
	init_pair();
	guest_out(0x4d1, 0x02);         /* IRQ9 level, as ACPI's SCI */
	guest_out(0x4d0, 0x20);         /* IRQ5 level */
	line(5, 1);
	expect(inta(), 0x35, "Level Triggered Mode", "INTA with the level IRQ5 high");
	expect(pic->pics[0].irr & 0x20, 0x20, "Level Triggered Mode: the request stays while the line is high",
	       "IRR bit 5 after INTA");
	guest_out(0x20, OCW2_EOI);
	expect(pic->output, 1, "Level Triggered Mode: still high after the EOI, it asks again", "INTR after EOI");
	expect(inta(), 0x35, "Level Triggered Mode", "INTA again");
	line(5, 0);
	expect(pic->pics[0].irr & 0x20, 0, "Level Triggered Mode: IRR follows the line", "IRR bit 5 after it dropped");
	guest_out(0x20, OCW2_EOI);
	expect(pic->output, 0, "Level Triggered Mode", "INTR once the line is low and IR5 ended");
	/* A level request that goes away before INTA: the master had latched
	 * the cascade's edge, the slave has nothing to give. */
	line(9, 1);
	expect(pic->output, 1, "Cascade Mode", "INTR with the level IRQ9 high");
	line(9, 0);
	expect(pic->pics[1].irr, 0x00, "Level Triggered Mode", "the slave's IRR once IRQ9 dropped");
	expect(inta(), 0x3f, "Level Triggered Mode: a level IR must stay high until INTA, or the result is the "
	       "IR7 vector", "INTA after IRQ9 dropped");
}
END_TEST

/* ---- exercise 1: masking, spurious, cascade, SFNM ---------------------------------- */

START_TEST(ex1_masked_request)
{
	init_pair();
	guest_out(0x21, 0x10);
	expect(line(4, 1), -1, "Interrupt Mask Register", "kvm_pic_set_irq() on a masked input returns -1");
	line(4, 0);
	expect(pic->output, 0, "Interrupt Mask Register: a masked input does not interrupt", "INTR, IR4 masked");
	expect(pic->pics[0].irr & 0x10, 0x10, "Interrupt Mask Register: the request is still latched", "IRR bit 4");
	unsigned kicks = fake_irq_calls.kicks[0];
	guest_out(0x21, 0x00);
	expect(pic->output, 1, "Interrupt Mask Register: unmasked, the latched request interrupts", "INTR, unmasked");
	expect(fake_irq_calls.kicks[0], kicks + 1, "INTR rising wakes the BSP (Linux: pic_unlock)",
	       "kvm_vcpu_kick() calls on vCPU 0 after the unmask");
	expect(inta(), 0x34, "Interrupt Mask Register", "INTA");
}
END_TEST

START_TEST(ex1_spurious_ir7)
{
	init_pair();
	pulse(4);
	expect(pic->output, 1, "Interrupt Sequence", "INTR");
	guest_out(0x21, 0x10);          /* masked between INTR and INTA */
	expect(inta(), 0x37, "Interrupt Sequence: no request at INTA: the IR7 vector (spurious)",
	       "INTA after the request was masked");
	expect(pic->pics[0].isr, 0, "Interrupt Sequence: a spurious IR7 sets no ISR bit (the guest checks it)", "ISR");
	/* The same on the slave: its own IR7 vector, 0x3f (IR4 stays masked). */
	pulse(10);
	guest_out(0xa1, 0x04);
	expect(inta(), 0x3f, "Cascade Mode: the slave answers with its IR7 vector when its request went away",
	       "INTA after IRQ10 was masked on the slave");
	expect(pic->pics[1].isr, 0, "Interrupt Sequence", "the slave's ISR after its spurious IR7");
}
END_TEST

START_TEST(ex1_cascade)
{
	init_pair();
	unsigned kicks = fake_irq_calls.kicks[0];
	pulse(12);
	pulse(9);
	expect(pic->output, 1, "Cascade Mode: the slave's INT drives the master's IR2", "INTR with IRQ9 and IRQ12");
	expect(fake_irq_calls.kicks[0], kicks + 1, "INTR rising wakes the BSP once", "kvm_vcpu_kick() calls");
	expect(kvm->vcpus[0]->requests & (1u << KVM_REQ_EVENT), 1u << KVM_REQ_EVENT, "INTR rising: KVM_REQ_EVENT "
	       "(Linux: pic_unlock)", "vCPU 0's requests");
	expect(inta(), 0x39, "Cascade Mode: the slave gives the vector of its highest request",
	       "INTA with IRQ9 and IRQ12 on the slave");
	expect(pic->pics[0].isr, 0x04, "Cascade Mode", "the master's ISR (IR2 in service)");
	expect(pic->pics[1].isr, 0x02, "Cascade Mode", "the slave's ISR (its IR1 in service)");
	pulse(3);
	expect(pic->output, 0, "Fully Nested Mode: IR3 ranks below the slave on IR2", "INTR with IRQ9 in service");
	pulse(0);
	expect(inta(), 0x30, "Fully Nested Mode", "INTA with IRQ0 requested while the slave is served");
	guest_out(0x20, OCW2_EOI);      /* IRQ0 */
	/* Linux's EOI for a slave IRQ: the slave first, then the master. */
	guest_out(0xa0, OCW2_EOI);
	expect(pic->output, 0, "Fully Nested Mode: the master's IR2 is still in service until its own EOI",
	       "INTR after only the slave's EOI");
	guest_out(0x20, OCW2_EOI);
	expect(inta(), 0x3c, "Cascade Mode", "INTA for IRQ12 after both EOIs");
	guest_out(0xa0, OCW2_EOI);
	guest_out(0x20, OCW2_EOI);
	expect(inta(), 0x33, "Fully Nested Mode", "INTA for IRQ3 once the slave is done");
}
END_TEST

START_TEST(ex1_special_fully_nested)
{
	init_pair_with(0x30, 0x38, 0x11, 0x01);     /* master: SFNM */
	expect(pic->pics[0].special_fully_nested_mode, 1, "ICW4 SFNM (bit 4)", "special_fully_nested_mode");
	pulse(12);
	expect(inta(), 0x3c, "Cascade Mode", "INTA for IRQ12");
	pulse(9);
	expect(pic->output, 1, "Special Fully Nest Mode: a higher request of the slave in service gets through the "
	       "master", "INTR with IRQ12 in service, IRQ9 new");
	expect(inta(), 0x39, "Special Fully Nest Mode", "INTA for IRQ9");
	pulse(13);
	expect(pic->output, 0, "Special Fully Nest Mode: the slave still ranks its own in-service inputs",
	       "INTR with IRQ9 and IRQ12 in service, IRQ13 new");
}
END_TEST

START_TEST(ex1_not_sfnm_blocks_the_slave)
{
	init_pair();
	pulse(12);
	inta();
	pulse(9);
	expect(pic->output, 0, "Fully Nested Mode: without SFNM, IR2 in service holds back any request of the slave",
	       "INTR with IRQ12 in service, IRQ9 new");
}
END_TEST

START_TEST(ex1_special_mask_mode)
{
	init_pair();
	pulse(3);
	inta();
	pulse(5);
	guest_out(0x21, 0x08);
	expect(pic->output, 0, "Special Mask Mode: without it, masking IR3 does not unblock IR5", "INTR");
	guest_out(0x20, OCW3_SET_SMM);
	expect(pic->pics[0].special_mask, 1, "OCW3 ESMM=1 SMM=1", "special_mask after OCW3 0x68");
	expect(pic->output, 1, "Special Mask Mode: the masked IR3 in service no longer holds back IR5", "INTR");
	expect(inta(), 0x35, "Special Mask Mode", "INTA");
	guest_out(0x20, 0x28);          /* OCW3 with ESMM=0: SMM unchanged */
	expect(pic->pics[0].special_mask, 1, "OCW3 ESMM=0: no action on the special mask", "special_mask after 0x28");
	guest_out(0x20, OCW3_READ_IRR);
	expect(pic->pics[0].special_mask, 1, "OCW3 ESMM=0: no action on the special mask",
	       "special_mask after OCW3 0x0a (read IRR)");
	guest_out(0x20, OCW3_RESET_SMM);
	expect(pic->pics[0].special_mask, 0, "OCW3 ESMM=1 SMM=0", "special_mask after OCW3 0x48");
}
END_TEST

START_TEST(ex1_output_kicks_once)
{
	init_pair();
	pulse(4);
	unsigned kicks = fake_irq_calls.kicks[0];
	ck_assert_msg(kicks == 1, "kvm_vcpu_kick() called %u times for one rising INTR, expected 1", kicks);
	pulse(5);
	expect(fake_irq_calls.kicks[0], 1, "INTR already high: no new wake-up (Linux: only when output rises)",
	       "kvm_vcpu_kick() calls after a second request");
}
END_TEST

START_TEST(ex1_byte_access_only)
{
	init_pair();
	struct kvm_io_device *dev = pio_dev(0x21);
	uint16_t w = 0xffff;
	dev->ops->write(kvm->vcpus[0], dev, 0x21, 2, &w);
	expect(pic->pics[0].imr, 0, "the PIC's registers are bytes", "IMR after a 16-bit write to port 0x21 "
	       "(ignored, as Linux)");
}
END_TEST

/* ---- KVM_GET/SET_IRQCHIP ------------------------------------------------------------ */

START_TEST(ex1_state_round_trip)
{
	init_pair_with(0x30, 0x38, 0x03, 0x01);
	guest_out(0x4d0, 0x20);
	guest_out(0x21, 0x40);
	guest_out(0x20, OCW2_SET_PRIORITY | 1);
	guest_out(0x20, OCW3_READ_ISR);
	line(5, 1);
	pulse(12);
	pulse(3);
	struct kvm_pic_state m, s;
	kvm_pic_get_state(pic, 0, &m);
	kvm_pic_get_state(pic, 1, &s);
	expect(m.irq_base, 0x30, "KVM_GET_IRQCHIP", "master irq_base in the saved state");
	expect(m.elcr, 0x20, "KVM_GET_IRQCHIP", "master elcr in the saved state");

	struct kvm_pic *other = kvm_create_pic(kvm);
	ck_assert_msg(other, "a second kvm_create_pic() failed");
	struct kvm_pic *old = pic;
	kvm->arch.vpic = other;
	pic = other;
	kvm_pic_set_state(pic, 0, &m);
	kvm_pic_set_state(pic, 1, &s);
	struct kvm_pic_state m2, s2;
	kvm_pic_get_state(pic, 0, &m2);
	kvm_pic_get_state(pic, 1, &s2);
	ck_assert_msg(!memcmp(&m, &m2, sizeof(m)) && !memcmp(&s, &s2, sizeof(s)),
		      "KVM_SET_IRQCHIP then KVM_GET_IRQCHIP changed the state (master irr %#x->%#x isr %#x->%#x "
		      "priority_add %u->%u; slave irr %#x->%#x)", m.irr, m2.irr, m.isr, m2.isr, m.priority_add,
		      m2.priority_add, s.irr, s2.irr);
	expect(pic->output, old->output, "KVM_SET_IRQCHIP recomputes INTR", "INTR of the restored pair");
	int v1 = kvm_pic_read_irq(kvm);
	kvm->arch.vpic = old;
	int v0 = kvm_pic_read_irq(kvm);
	kvm->arch.vpic = other;
	expect(v1, v0, "KVM_SET_IRQCHIP", "INTA of the restored pair against the original");
	kvm_destroy_pic(old);
}
END_TEST

START_TEST(ex1_state_checked)
{
	struct kvm_pic_state st = { .priority_add = 0x1b, .init_state = 9, .irq_base = 0x37, .elcr = 0xff,
				    .auto_eoi = 5, .elcr_mask = 0xff };
	kvm_pic_set_state(pic, 0, &st);
	kvm_pic_get_state(pic, 0, &st);
	expect(st.priority_add, 3, "KVM_SET_IRQCHIP: userspace's values are checked", "priority_add set to 0x1b");
	expect(st.init_state, 0, "KVM_SET_IRQCHIP", "init_state set to 9 (no such state)");
	expect(st.irq_base, 0x30, "KVM_SET_IRQCHIP", "irq_base set to 0x37");
	expect(st.elcr, 0xf8, "KVM_SET_IRQCHIP: the ELCR keeps the chipset's wiring", "elcr set to 0xff");
	expect(st.auto_eoi, 1, "KVM_SET_IRQCHIP", "auto_eoi set to 5");
}
END_TEST

Suite *pic_suite(void)
{
	Suite *s = suite_create("pic");
	TCase *tc = tcase_create("pic");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ex1_pic_registers_its_ports);
	tcase_add_test(tc, ex1_linux_init_sequence);
	tcase_add_test(tc, ex1_bios_vector_bases);
	tcase_add_test(tc, ex1_icw1_without_icw4);
	tcase_add_test(tc, ex1_icw1_resets_the_chip);
	tcase_add_test(tc, ex1_read_irr_and_isr);
	tcase_add_test(tc, ex1_poll_command);
	tcase_add_test(tc, ex1_elcr_ports);
	tcase_add_loop_test(tc, ex1_priority, 0, (int)(sizeof(prio_cases) / sizeof(prio_cases[0])));
	tcase_add_test(tc, ex1_nested_sequence);
	tcase_add_test(tc, ex1_specific_eoi);
	tcase_add_test(tc, ex1_rotate_on_eoi);
	tcase_add_test(tc, ex1_auto_eoi);
	tcase_add_test(tc, ex1_edge_triggered);
	tcase_add_test(tc, ex1_level_triggered);
	tcase_add_test(tc, ex1_masked_request);
	tcase_add_test(tc, ex1_spurious_ir7);
	tcase_add_test(tc, ex1_cascade);
	tcase_add_test(tc, ex1_special_fully_nested);
	tcase_add_test(tc, ex1_not_sfnm_blocks_the_slave);
	tcase_add_test(tc, ex1_special_mask_mode);
	tcase_add_test(tc, ex1_output_kicks_once);
	tcase_add_test(tc, ex1_byte_access_only);
	tcase_add_test(tc, ex1_state_round_trip);
	tcase_add_test(tc, ex1_state_checked);
	suite_add_tcase(s, tc);
	return s;
}
