/* SPDX-License-Identifier: MIT */
/*
 * The virtio-mmio transport (vmm/virtio/mmio.c) and the devices behind it
 * (blk.c, console.c), driven through the VMM's MMIO bus as a guest's driver
 * drives them: register accesses, a split queue in guest RAM, notifications.
 * The fake KVM records the interrupts (KVM_IRQ_LINE) and the fake host
 * keeps the disk in memory, so every test sees what the device did to the
 * guest's memory, the disk and the interrupt line (virtio 1.2 §2.1, §3.1,
 * §4.2, §5.2, §5.3).
 */
#include <string.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "lab09_tests.h"
#include "ut_vmm.h"
#include "vmm/virtio/virtio.h"

#define RAM_SIZE  (1u << 20)
#define DESC_GPA  0x10000u
#define AVAIL_GPA 0x11000u
#define USED_GPA  0x12000u
#define BUF_GPA   0x20000u
#define QSIZE     16
#define DISK      "vda.img"
#define DISK_SIZE (16 * 512)

static struct vm *vm;
static uint64_t base;            /* the device's registers */
static uint8_t disk[DISK_SIZE];
static uint16_t next_desc;

static uint32_t rd(uint32_t off)
{
	return (uint32_t)bus_read(&vm->mmio_bus, NULL, base + off, 4);
}

static void wr(uint32_t off, uint32_t value)
{
	bus_write(&vm->mmio_bus, NULL, base + off, 4, value);
}

static int interrupts(void)
{
	return fake_kvm_count(KVM_IRQ_LINE) / 2; /* a pulse: up, then down */
}

/* A VM with the device of `slot` on its MMIO bus (blk on a 16-sector disk
 * whose byte i is i * 7, or the console). */
static struct virtio_dev *plug(int slot)
{
	vm = ut_vm(RAM_SIZE);
	vm->has_irqchip = true;
	for (unsigned int i = 0; i < sizeof(disk); i++)
		disk[i] = (uint8_t)(i * 7);
	fake_host_add_file(DISK, disk, sizeof(disk));
	struct virtio_dev *dev = slot == ABI_VIRTIO_BLK ? virtio_blk_create(vm, DISK) : virtio_console_create(vm);
	ck_assert_ptr_nonnull(dev);
	ck_assert_int_eq(virtio_mmio_register(vm, dev, slot), 0);
	base = ABI_VIRTIO_MMIO_GPA + (uint64_t)slot * ABI_VIRTIO_MMIO_SIZE;
	next_desc = 0;
	return dev;
}

/* §3.1.1 up to FEATURES_OK with the features given; returns the status read back. */
static uint32_t negotiate(uint64_t features)
{
	wr(VIRTIO_MMIO_STATUS, 0);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	for (uint32_t sel = 0; sel < 2; sel++) {
		wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, sel);
		wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> (32 * sel)));
	}
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
	return rd(VIRTIO_MMIO_STATUS);
}

static void queue_regs(uint32_t q, uint32_t num, uint64_t desc, uint64_t avail, uint64_t used)
{
	wr(VIRTIO_MMIO_QUEUE_SEL, q);
	wr(VIRTIO_MMIO_QUEUE_NUM, num);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)avail);
	wr(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(avail >> 32));
	wr(VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)used);
	wr(VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(used >> 32));
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
}

/* The whole bring-up with VERSION_1 alone and queue q at the usual place. */
static void bring_up(uint32_t q)
{
	ck_assert_uint_eq(negotiate(1ull << VIRTIO_F_VERSION_1) & VIRTIO_CONFIG_S_FEATURES_OK,
			  VIRTIO_CONFIG_S_FEATURES_OK);
	queue_regs(q, QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_READY), 1);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK |
				       VIRTIO_CONFIG_S_DRIVER_OK);
}

static struct vring_desc *desc(void)
{
	return (struct vring_desc *)(vm->ram + DESC_GPA);
}

static struct vring_avail *avail(void)
{
	return (struct vring_avail *)(vm->ram + AVAIL_GPA);
}

static struct vring_used *used(void)
{
	return (struct vring_used *)(vm->ram + USED_GPA);
}

/* Append a buffer to the chain being built; returns its descriptor index. */
static uint16_t buf(uint64_t gpa, uint32_t len, bool write, bool last)
{
	uint16_t i = next_desc++;
	desc()[i] = (struct vring_desc){ .addr = gpa, .len = len,
					 .flags = (uint16_t)((write ? VRING_DESC_F_WRITE : 0) | (last ? 0 : VRING_DESC_F_NEXT)),
					 .next = (uint16_t)(i + 1) };
	return i;
}

static void kick(uint16_t head, uint32_t q)
{
	avail()->ring[avail()->idx % QSIZE] = head;
	avail()->idx++;
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

/* A blk request: header at BUF_GPA, data at BUF_GPA + 0x1000 (len bytes,
 * device-writable for IN and GET_ID), status at BUF_GPA + 0x100. */
static uint16_t blk_req(uint32_t type, uint64_t sector, uint32_t len)
{
	struct virtio_blk_outhdr *h = (void *)(vm->ram + BUF_GPA);
	*h = (struct virtio_blk_outhdr){ .type = type, .sector = sector };
	vm->ram[BUF_GPA + 0x100] = 0xff;
	uint16_t head = buf(BUF_GPA, sizeof(*h), false, false);
	if (len)
		buf(BUF_GPA + 0x1000, len, type != VIRTIO_BLK_T_OUT, false);
	buf(BUF_GPA + 0x100, 1, true, true);
	return head;
}

static uint8_t blk_status(void)
{
	return vm->ram[BUF_GPA + 0x100];
}

/* ---- exercise 3: the transport ---------------------------------------- */

START_TEST(ex3_identity_registers)
{
	plug(ABI_VIRTIO_BLK);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_VERSION), 2);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BLOCK);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_DEVICE_FEATURES) & 1, 1); /* VERSION_1 is bit 32 */
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint32_t low = rd(VIRTIO_MMIO_DEVICE_FEATURES);
	ck_assert_uint_ne(low & (1u << VIRTIO_BLK_F_FLUSH), 0);
	ck_assert_uint_ne(low & (1u << VIRTIO_RING_F_EVENT_IDX), 0);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTIO_QUEUE_NUM_MAX);
	wr(VIRTIO_MMIO_QUEUE_SEL, 1);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 0); /* blk has one queue */
	/* §4.2.2.2: 32-bit accesses only. */
	ck_assert_uint_eq(bus_read(&vm->mmio_bus, NULL, base + VIRTIO_MMIO_MAGIC_VALUE, 2), 0);
	/* Configuration space: capacity in sectors at 0, blk_size at 20. */
	ck_assert_uint_eq(bus_read(&vm->mmio_bus, NULL, base + VIRTIO_MMIO_CONFIG, 8), DISK_SIZE / 512);
	ck_assert_uint_eq(bus_read(&vm->mmio_bus, NULL, base + VIRTIO_MMIO_CONFIG + 20, 4), 512);
}
END_TEST

START_TEST(ex3_status_order)
{
	plug(ABI_VIRTIO_CONSOLE);
	bring_up(1);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS), 0x0f);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	/* A reset forgets everything. */
	wr(VIRTIO_MMIO_STATUS, 0);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS), 0);
	wr(VIRTIO_MMIO_QUEUE_SEL, 1);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
}
END_TEST

START_TEST(ex3_status_skipped_step)
{
	plug(ABI_VIRTIO_CONSOLE);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_FEATURES_OK); /* no DRIVER */
	ck_assert_uint_ne(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	ck_assert_int_eq(interrupts(), 1);
	/* Only FAILED or a reset from now on. */
	wr(VIRTIO_MMIO_STATUS, 0x0f);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_DRIVER_OK, 0);
	wr(VIRTIO_MMIO_STATUS, 0);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS), 0);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
}
END_TEST

START_TEST(ex3_status_cleared_bit)
{
	plug(ABI_VIRTIO_CONSOLE);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_DRIVER);
	ck_assert_uint_ne(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}
END_TEST

START_TEST(ex3_features_refused)
{
	plug(ABI_VIRTIO_BLK);
	/* §6.1: a version 2 device needs VIRTIO_F_VERSION_1. */
	ck_assert_uint_eq(negotiate(1ull << VIRTIO_BLK_F_FLUSH) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
	/* §2.2: nothing we did not offer (bit 7, SCSI). */
	ck_assert_uint_eq(negotiate(1ull << VIRTIO_F_VERSION_1 | 1u << 7) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	/* A subset is fine, and then the features are settled. */
	ck_assert_uint_ne(negotiate(1ull << VIRTIO_F_VERSION_1) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
}
END_TEST

START_TEST(ex3_queue_ready_refused)
{
	plug(ABI_VIRTIO_BLK);
	/* Before FEATURES_OK. */
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	queue_regs(0, QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	negotiate(1ull << VIRTIO_F_VERSION_1);
	static const uint32_t bad_sizes[] = { 0, 3, 24, 2 * VIRTIO_QUEUE_NUM_MAX };
	for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		queue_regs(0, bad_sizes[i], DESC_GPA, AVAIL_GPA, USED_GPA);
		ck_assert_msg(rd(VIRTIO_MMIO_QUEUE_READY) == 0, "queue size %u accepted", bad_sizes[i]);
	}
	/* A ring outside guest RAM, or beyond 4 GiB through the high half. */
	queue_regs(0, QSIZE, RAM_SIZE - 16, AVAIL_GPA, USED_GPA);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	queue_regs(0, QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA | 1ull << 32);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	queue_regs(0, QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_QUEUE_READY), 1);
	/* A ready queue's registers are the device's now. */
	wr(VIRTIO_MMIO_QUEUE_NUM, 4);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, 0);
	wr(VIRTIO_MMIO_STATUS, 0x0f);
	kick(blk_req(VIRTIO_BLK_T_IN, 0, 512), 0);
	ck_assert_uint_eq(blk_status(), VIRTIO_BLK_S_OK); /* the ring is where it was */
}
END_TEST

START_TEST(ex3_notify_before_driver_ok)
{
	plug(ABI_VIRTIO_BLK);
	negotiate(1ull << VIRTIO_F_VERSION_1);
	queue_regs(0, QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA);
	kick(blk_req(VIRTIO_BLK_T_IN, 0, 512), 0);
	ck_assert_uint_eq(used()->idx, 0);
	ck_assert_uint_eq(blk_status(), 0xff);
	/* DRIVER_OK, then the next notification takes it. */
	wr(VIRTIO_MMIO_STATUS, 0x0f);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	ck_assert_uint_eq(used()->idx, 1);
	ck_assert_uint_eq(blk_status(), VIRTIO_BLK_S_OK);
}
END_TEST

START_TEST(ex3_interrupt_ack)
{
	plug(ABI_VIRTIO_BLK);
	bring_up(0);
	kick(blk_req(VIRTIO_BLK_T_FLUSH, 0, 0), 0);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	ck_assert_int_eq(interrupts(), 1);
	wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
}
END_TEST

/* ---- exercise 4: virtio-blk -------------------------------------------- */

START_TEST(ex4_blk_read)
{
	plug(ABI_VIRTIO_BLK);
	bring_up(0);
	kick(blk_req(VIRTIO_BLK_T_IN, 3, 1024), 0);
	ck_assert_uint_eq(blk_status(), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(memcmp(vm->ram + BUF_GPA + 0x1000, disk + 3 * 512, 1024), 0);
	ck_assert_uint_eq(used()->idx, 1);
	ck_assert_uint_eq(used()->ring[0].id, 0);
	ck_assert_uint_eq(used()->ring[0].len, 1025); /* data and status */
}
END_TEST

START_TEST(ex4_blk_write_flush)
{
	plug(ABI_VIRTIO_BLK);
	bring_up(0);
	memset(vm->ram + BUF_GPA + 0x1000, 0xab, 512);
	kick(blk_req(VIRTIO_BLK_T_OUT, 15, 512), 0);
	ck_assert_uint_eq(blk_status(), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(used()->ring[0].len, 1);
	const uint8_t *file = fake_host_file_data(DISK);
	ck_assert_uint_eq(file[15 * 512], 0xab);
	ck_assert_uint_eq(file[15 * 512 - 1], (uint8_t)((15 * 512 - 1) * 7)); /* the sector before, untouched */
	/* FLUSH not negotiated: writethrough, the write was flushed (§5.2.5). */
	ck_assert_int_eq(fake_host_disk_flushes(), 1);
	kick(blk_req(VIRTIO_BLK_T_FLUSH, 0, 0), 0);
	ck_assert_uint_eq(blk_status(), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(fake_host_disk_flushes(), 2);
}
END_TEST

START_TEST(ex4_blk_writeback)
{
	/* With VIRTIO_BLK_F_FLUSH the cache is writeback: only FLUSH flushes. */
	plug(ABI_VIRTIO_BLK);
	ck_assert_uint_ne(negotiate(1ull << VIRTIO_F_VERSION_1 | 1u << VIRTIO_BLK_F_FLUSH) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
	queue_regs(0, QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA);
	wr(VIRTIO_MMIO_STATUS, 0x0f);
	kick(blk_req(VIRTIO_BLK_T_OUT, 1, 512), 0);
	ck_assert_uint_eq(blk_status(), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(fake_host_disk_flushes(), 0);
	next_desc = 0;
	kick(blk_req(VIRTIO_BLK_T_FLUSH, 0, 0), 0);
	ck_assert_int_eq(fake_host_disk_flushes(), 1);
}
END_TEST

START_TEST(ex4_blk_get_id)
{
	plug(ABI_VIRTIO_BLK);
	bring_up(0);
	memset(vm->ram + BUF_GPA + 0x1000, 0xee, VIRTIO_BLK_ID_BYTES);
	kick(blk_req(VIRTIO_BLK_T_GET_ID, 0, VIRTIO_BLK_ID_BYTES), 0);
	ck_assert_uint_eq(blk_status(), VIRTIO_BLK_S_OK);
	ck_assert_str_eq((char *)vm->ram + BUF_GPA + 0x1000, DISK);
	ck_assert_uint_eq(vm->ram[BUF_GPA + 0x1000 + VIRTIO_BLK_ID_BYTES - 1], 0); /* NUL-padded */
}
END_TEST

START_TEST(ex4_blk_errors)
{
	plug(ABI_VIRTIO_BLK);
	bring_up(0);
	static const struct { uint32_t type; uint64_t sector; uint32_t len; uint8_t status; const char *what; } cases[] = {
		{ VIRTIO_BLK_T_IN, 16, 512, VIRTIO_BLK_S_IOERR, "read past the end" },
		{ VIRTIO_BLK_T_IN, 15, 1024, VIRTIO_BLK_S_IOERR, "read straddling the end" },
		{ VIRTIO_BLK_T_OUT, ~0ull / 256, 512, VIRTIO_BLK_S_IOERR, "sector * 512 overflowing" },
		{ VIRTIO_BLK_T_IN, 0, 100, VIRTIO_BLK_S_IOERR, "not whole sectors" },
		{ 99, 0, 512, VIRTIO_BLK_S_UNSUPP, "unknown type" },
		{ VIRTIO_BLK_T_IN, 15, 512, VIRTIO_BLK_S_OK, "the last sector" },
	};
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		next_desc = 0;
		kick(blk_req(cases[i].type, cases[i].sector, cases[i].len), 0);
		ck_assert_msg(blk_status() == cases[i].status, "%s: status %u, %u expected", cases[i].what,
			      blk_status(), cases[i].status);
	}
	ck_assert_uint_eq(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	ck_assert_int_eq(memcmp(fake_host_file_data(DISK), disk, sizeof(disk)), 0);
}
END_TEST

START_TEST(ex4_blk_framing)
{
	/* §2.7.4: the header split over two descriptors, the data over three. */
	plug(ABI_VIRTIO_BLK);
	bring_up(0);
	struct virtio_blk_outhdr *h = (void *)(vm->ram + BUF_GPA);
	*h = (struct virtio_blk_outhdr){ .type = VIRTIO_BLK_T_IN, .sector = 2 };
	uint16_t head = buf(BUF_GPA, 4, false, false);
	buf(BUF_GPA + 4, 12, false, false);
	buf(BUF_GPA + 0x1000, 100, true, false);
	buf(BUF_GPA + 0x2000, 312, true, false);
	buf(BUF_GPA + 0x3000, 101, true, true); /* the last 100 bytes of the sector, then the status */
	kick(head, 0);
	ck_assert_uint_eq(vm->ram[BUF_GPA + 0x3000 + 100], VIRTIO_BLK_S_OK);
	ck_assert_int_eq(memcmp(vm->ram + BUF_GPA + 0x1000, disk + 1024, 100), 0);
	ck_assert_int_eq(memcmp(vm->ram + BUF_GPA + 0x2000, disk + 1124, 312), 0);
	ck_assert_int_eq(memcmp(vm->ram + BUF_GPA + 0x3000, disk + 1436, 100), 0);
	ck_assert_uint_eq(used()->ring[0].len, 513);
}
END_TEST

START_TEST(ex4_blk_no_status)
{
	plug(ABI_VIRTIO_BLK);
	bring_up(0);
	uint16_t head = buf(BUF_GPA, 16, false, true);
	kick(head, 0);
	ck_assert_uint_ne(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	ck_assert_uint_eq(used()->idx, 0);
}
END_TEST

START_TEST(ex4_hostile_ring_needs_reset)
{
	plug(ABI_VIRTIO_BLK);
	bring_up(0);
	desc()[0] = (struct vring_desc){ .addr = BUF_GPA, .len = 16, .flags = VRING_DESC_F_NEXT, .next = 1 };
	desc()[1] = (struct vring_desc){ .addr = BUF_GPA, .len = 16, .flags = VRING_DESC_F_NEXT, .next = 0 };
	kick(0, 0);
	ck_assert_uint_ne(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	/* Reset and a fresh start work again. */
	memset(vm->ram + DESC_GPA, 0, 0x3000);
	next_desc = 0;
	bring_up(0);
	kick(blk_req(VIRTIO_BLK_T_IN, 0, 512), 0);
	ck_assert_uint_eq(blk_status(), VIRTIO_BLK_S_OK);
}
END_TEST

/* ---- the console, the worked example ----------------------------------- */

START_TEST(console_tx)
{
	plug(ABI_VIRTIO_CONSOLE);
	bring_up(1);
	memcpy(vm->ram + BUF_GPA, "hello, ", 7);
	memcpy(vm->ram + BUF_GPA + 0x100, "virtio\n", 7);
	uint16_t head = buf(BUF_GPA, 7, false, false);
	buf(BUF_GPA + 0x100, 7, false, true);
	ut_stdout_begin();
	kick(head, 1);
	ck_assert_str_eq(ut_stdout_end(), "hello, virtio\n");
	ck_assert_uint_eq(used()->idx, 1);
	ck_assert_uint_eq(used()->ring[0].len, 0);
}
END_TEST

START_TEST(console_rx)
{
	plug(ABI_VIRTIO_CONSOLE);
	bring_up(0);
	/* No input: the buffer stays the driver's. */
	kick(buf(BUF_GPA, 8, true, true), 0);
	ck_assert_uint_eq(used()->idx, 0);
	/* Input: delivered into it on the next look at the receiveq. */
	fake_host_set_console_input("hi!");
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	ck_assert_uint_eq(used()->idx, 1);
	ck_assert_uint_eq(used()->ring[0].len, 3);
	ck_assert_int_eq(memcmp(vm->ram + BUF_GPA, "hi!", 3), 0);
	ck_assert_uint_eq(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	/* §5.3.6.1: a receive buffer the device cannot write is the driver's error. */
	fake_host_set_console_input("x");
	kick(buf(BUF_GPA + 0x100, 8, false, true), 0);
	ck_assert_uint_ne(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}
END_TEST

Suite *device_suite(void)
{
	Suite *s = suite_create("device");
	TCase *tc = ut_tcase("transport", 10);
	tcase_add_test(tc, ex3_identity_registers);
	tcase_add_test(tc, ex3_status_order);
	tcase_add_test(tc, ex3_status_skipped_step);
	tcase_add_test(tc, ex3_status_cleared_bit);
	tcase_add_test(tc, ex3_features_refused);
	tcase_add_test(tc, ex3_queue_ready_refused);
	tcase_add_test(tc, ex3_notify_before_driver_ok);
	tcase_add_test(tc, ex3_interrupt_ack);
	suite_add_tcase(s, tc);
	tc = ut_tcase("blk", 10);
	tcase_add_test(tc, ex4_blk_read);
	tcase_add_test(tc, ex4_blk_write_flush);
	tcase_add_test(tc, ex4_blk_writeback);
	tcase_add_test(tc, ex4_blk_get_id);
	tcase_add_test(tc, ex4_blk_errors);
	tcase_add_test(tc, ex4_blk_framing);
	tcase_add_test(tc, ex4_blk_no_status);
	tcase_add_test(tc, ex4_hostile_ring_needs_reset);
	tcase_add_test(tc, console_tx);
	tcase_add_test(tc, console_rx);
	suite_add_tcase(s, tc);
	return s;
}
