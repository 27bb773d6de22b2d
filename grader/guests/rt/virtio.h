/* SPDX-License-Identifier: MIT */
/*
 * A small virtio driver for the lab 09 guests (prot-virtio-*.elf): the
 * virtio-mmio transport, version 2 (virtio 1.2 §4.2), split virtqueues
 * (§2.7) in the guest's own static memory, and each device's interrupt
 * through the 8259s (rt/irq.h). Protected-mode guests run with paging off,
 * so a pointer is its guest-physical address and is handed to the device
 * as it is.
 *
 * The names and values are Linux's uapi ones (<linux/virtio_mmio.h>,
 * <linux/virtio_config.h>, <linux/virtio_ring.h>, <linux/virtio_blk.h>,
 * <linux/virtio_ids.h>), defined here once because those headers need
 * <asm/types.h>, which a Debian host without multilib has for -m64 only.
 *
 * Waiting. A device may answer from a thread of its own (the VMM serves
 * QueueNotify through an ioeventfd where KVM has one), so nothing is done
 * when the notifying write returns. The guest keeps IF clear and waits in
 * `sti; hlt` (virtio_wait()), woken by the device's interrupt or by a 1 ms
 * tick of the 8254's channel 0 that bounds every wait: a device that never
 * answers is a `not ok` line, not a hung guest. Interrupts are therefore
 * taken, and counted, only inside a wait.
 *
 * The driver is honest by default (§2.7.13: barriers, notification
 * suppression honoured both ways); the structures are open so that a guest
 * can also be the hostile driver (prot-virtio-bad).
 */
#ifndef RT_VIRTIO_H
#define RT_VIRTIO_H

#include "irq.h"

/* ---- the virtio-mmio transport, version 2 (§4.2.2) ---------------------- */

#define VIRTIO_MMIO_MAGIC               0x74726976 /* "virt" */
#define VIRTIO_MMIO_MAGIC_VALUE         0x000
#define VIRTIO_MMIO_VERSION             0x004
#define VIRTIO_MMIO_DEVICE_ID           0x008
#define VIRTIO_MMIO_VENDOR_ID           0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES     0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES     0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL           0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX       0x034
#define VIRTIO_MMIO_QUEUE_NUM           0x038
#define VIRTIO_MMIO_QUEUE_READY         0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY        0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS    0x060
#define VIRTIO_MMIO_INTERRUPT_ACK       0x064
#define VIRTIO_MMIO_STATUS              0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW      0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH     0x084
#define VIRTIO_MMIO_QUEUE_AVAIL_LOW     0x090 /* QueueDriver: the available ring */
#define VIRTIO_MMIO_QUEUE_AVAIL_HIGH    0x094
#define VIRTIO_MMIO_QUEUE_USED_LOW      0x0a0 /* QueueDevice: the used ring */
#define VIRTIO_MMIO_QUEUE_USED_HIGH     0x0a4
#define VIRTIO_MMIO_CONFIG_GENERATION   0x0fc
#define VIRTIO_MMIO_CONFIG              0x100 /* device-specific configuration */
/* InterruptStatus bits. */
#define VIRTIO_MMIO_INT_VRING           (1u << 0) /* used buffer notification */
#define VIRTIO_MMIO_INT_CONFIG          (1u << 1) /* configuration change (also DEVICE_NEEDS_RESET, §2.1.2) */

/* Device status (§2.1), set in this order by the driver (§3.1.1). */
#define VIRTIO_CONFIG_S_ACKNOWLEDGE     0x01
#define VIRTIO_CONFIG_S_DRIVER          0x02
#define VIRTIO_CONFIG_S_DRIVER_OK       0x04
#define VIRTIO_CONFIG_S_FEATURES_OK     0x08
#define VIRTIO_CONFIG_S_NEEDS_RESET     0x40
#define VIRTIO_CONFIG_S_FAILED          0x80

/* Feature bits (bit numbers): the reserved ones of §6, blk's of §5.2.3. */
#define VIRTIO_RING_F_INDIRECT_DESC     28
#define VIRTIO_RING_F_EVENT_IDX         29
#define VIRTIO_F_VERSION_1              32
#define VIRTIO_F_ACCESS_PLATFORM        33
#define VIRTIO_BLK_F_SIZE_MAX           1
#define VIRTIO_BLK_F_SEG_MAX            2
#define VIRTIO_BLK_F_BLK_SIZE           6
#define VIRTIO_BLK_F_FLUSH              9
#define VIRTIO_CONSOLE_F_SIZE           0
#define VIRTIO_BIT(b)                   (1ull << (b))

/* Device IDs (§5). */
#define VIRTIO_ID_BLOCK                 2
#define VIRTIO_ID_CONSOLE               3

/* virtio-blk (§5.2.4 configuration, §5.2.6 requests). */
#define VIRTIO_BLK_CFG_CAPACITY         0  /* le64, 512-byte sectors */
#define VIRTIO_BLK_CFG_SIZE_MAX         8  /* le32 */
#define VIRTIO_BLK_CFG_SEG_MAX          12 /* le32 */
#define VIRTIO_BLK_CFG_BLK_SIZE         20 /* le32 */
#define VIRTIO_BLK_T_IN                 0
#define VIRTIO_BLK_T_OUT                1
#define VIRTIO_BLK_T_FLUSH              4
#define VIRTIO_BLK_T_GET_ID             8
#define VIRTIO_BLK_S_OK                 0
#define VIRTIO_BLK_S_IOERR              1
#define VIRTIO_BLK_S_UNSUPP             2
#define VIRTIO_BLK_ID_BYTES             20
#define VIRTIO_BLK_SECTOR               512

struct virtio_blk_outhdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};
_Static_assert(sizeof(struct virtio_blk_outhdr) == 16, "§5.2.6: the request header is 16 bytes");

/* ---- split virtqueues (§2.7) -------------------------------------------- */

#define VRING_DESC_F_NEXT               1
#define VRING_DESC_F_WRITE              2
#define VRING_DESC_F_INDIRECT           4
#define VRING_AVAIL_F_NO_INTERRUPT      1  /* §2.7.7, without EVENT_IDX */
#define VRING_USED_F_NO_NOTIFY          1  /* §2.7.10, without EVENT_IDX */

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
/* flags, idx, ring[size], then used_event (§2.7.6). */
struct vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};
struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};
/* flags, idx, ring[size], then avail_event (§2.7.8). */
struct vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[];
};
_Static_assert(sizeof(struct vring_desc) == 16, "§2.7.5");
_Static_assert(sizeof(struct vring_used_elem) == 8, "§2.7.8");

/* The event-index test of §2.7.7 and §2.7.10 (Linux's vring_need_event):
 * has the index moved from old to new_idx past event_idx? All 16-bit. */
static inline int vring_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old);
}

/* A full barrier: a locked read-modify-write (SDM Vol. 3A 9.2.2), which a
 * host that emulates CPL0 code runs where it might not know MFENCE. The
 * driver's stores must be visible before it reads what the device wrote
 * (§2.7.13.4: avail->idx before flags/avail_event; §2.7.14: used_event
 * before the last look at used->idx). */
static inline void virtio_mb(void)
{
	__asm__ volatile("lock; orl $0, (%%esp)" : : : "memory", "cc");
}
/* x86 keeps stores in order and loads in order (SDM Vol. 3A 9.2.2): the
 * write and read barriers of §2.7.13 only have to stop the compiler. */
static inline void virtio_barrier(void)
{
	__asm__ volatile("" : : : "memory");
}

/* The largest queue the guests set up: QueueNumMax of the kit's devices. */
#define VIRTQ_MAX 256
/* Static memory for one queue of up to VIRTQ_MAX entries: the descriptor
 * table (16-byte aligned), then the available ring, then the used ring
 * (4-byte aligned), packed as §2.7's table allows. */
struct virtq_area {
	uint8_t bytes[16 * VIRTQ_MAX + 8 + 2 * VIRTQ_MAX + 8 + 8 * VIRTQ_MAX];
} __attribute__((aligned(16)));

struct virtio_dev;

struct virtq {
	struct virtio_dev *dev;
	uint16_t index, size;
	volatile struct vring_desc *desc;
	volatile struct vring_avail *avail;
	volatile struct vring_used *used;
	volatile uint16_t *used_event;   /* after avail->ring[size] (§2.7.6) */
	volatile uint16_t *avail_event;  /* after used->ring[size] (§2.7.8) */
	int event_idx;                   /* VIRTIO_RING_F_EVENT_IDX negotiated */
	int indirect;                    /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	uint16_t free_head, num_free;    /* free descriptors, linked by next */
	uint16_t avail_idx;              /* what avail->idx says */
	uint16_t kicked_idx;             /* avail_idx at the last kick decision */
	uint16_t last_used;              /* the next used entry the driver reads */
	int rearm;                       /* EVENT_IDX: used_event follows last_used (virtq_irq_enable) */
	uint8_t busy[VIRTQ_MAX];         /* heads in flight */
	uint32_t kicks, kicks_skipped;   /* notifications sent, and suppressed (§2.7.10) */
};

struct virtio_dev {
	uintptr_t base;                  /* its registers */
	unsigned slot, irq;
	uint32_t device_id;
	uint64_t offered;                /* DeviceFeatures, read by virtio_negotiate() */
	uint64_t features;               /* what the driver took */
	/* Interrupts taken; those that found InterruptStatus 0 (a pulse the
	 * 8259 latched for an event already acknowledged), bit 0 (used
	 * buffers) or bit 1 (configuration change, DEVICE_NEEDS_RESET); the
	 * bits seen, ORed. Checks that count events use irqs_vring and
	 * irqs_config: a late pulse cannot pass for one. */
	volatile uint32_t irqs, irqs_empty, irqs_vring, irqs_config;
	volatile uint32_t isr_seen;
};

/* One buffer of a chain: device-readable, or device-writable if write. */
struct vbuf {
	const void *addr;
	uint32_t len;
	int write;
};

/* ---- set-up ------------------------------------------------------------- */

/* The IDT (irq.h), both 8259s at vectors 0x20-0x2f with every line masked
 * but the cascade and the guard tick's IRQ 0, the 8254 stopped. */
void virtio_rt_init(void);

/* Slot n's registers (guest_abi.h); returns 1 if they hold a virtio-mmio
 * version 2 device (magic, version, DeviceID not 0), else 0. */
int virtio_probe(struct virtio_dev *d, unsigned slot);
/* The same at `base`, another machine's layout (QEMU microvm's window,
 * bench-virtio), its interrupt on `irq`: 8259 line irq & 15 for
 * virtio_irq_attach() where irq < 16, else a line the 8259s cannot see.
 * d->slot is `slot`, the transport's index there. */
int virtio_probe_at(struct virtio_dev *d, uintptr_t base, unsigned slot, unsigned irq);

static inline uint32_t virtio_read(const struct virtio_dev *d, uint32_t reg)
{
	return mmio_read32(d->base + reg);
}
static inline void virtio_write(const struct virtio_dev *d, uint32_t reg, uint32_t v)
{
	mmio_write32(d->base + reg, v);
}
static inline uint32_t virtio_status(const struct virtio_dev *d)
{
	return virtio_read(d, VIRTIO_MMIO_STATUS);
}

/* DeviceFeatures, both words (§4.2.2: select, then read). */
uint64_t virtio_device_features(const struct virtio_dev *d);
/* DriverFeatures, both words. */
void virtio_set_driver_features(const struct virtio_dev *d, uint64_t f);
/* Status 0, then until it reads 0 (§2.4: a reset is complete when the
 * status reads 0); returns whether it did. */
int virtio_reset(const struct virtio_dev *d);
/* §3.1.1 up to FEATURES_OK: reset, ACKNOWLEDGE, DRIVER, DriverFeatures =
 * want & what the device offers, FEATURES_OK; returns whether the device
 * kept FEATURES_OK (§2.2). Sets d->offered and d->features. */
int virtio_negotiate(struct virtio_dev *d, uint64_t want);
/* The last step: DRIVER_OK. */
void virtio_driver_ok(const struct virtio_dev *d);

/* A device-specific configuration field (§4.2.2: 32-bit fields by 32-bit
 * accesses; a 64-bit one as two, between two reads of ConfigGeneration
 * that agree, §2.5.1). */
uint32_t virtio_config32(const struct virtio_dev *d, uint32_t off);
uint64_t virtio_config64(const struct virtio_dev *d, uint32_t off);

/* Queue `index` of `size` entries in `area` (§4.2.3.2): the ring cleared,
 * the registers written, QueueReady = 1; returns QueueReady read back.
 * Takes EVENT_IDX and INDIRECT_DESC from d->features. */
int virtq_setup(struct virtq *vq, struct virtio_dev *d, unsigned index, unsigned size, struct virtq_area *area);
/* Only the registers: size and the three parts at the given addresses,
 * QueueReady = 1; returns QueueReady read back (the refusals of §4.2.3.2). */
int virtq_program(const struct virtio_dev *d, unsigned index, uint32_t size, uint64_t desc, uint64_t avail,
		  uint64_t used);

/* ---- buffers ------------------------------------------------------------ */

/* A chain of n buffers made available (§2.7.13: descriptors, then the ring
 * entry, then idx); returns its head, or -1 without enough free descriptors.
 * Not notified: virtq_kick(). */
int virtq_add(struct virtq *vq, const struct vbuf *bufs, unsigned n);
/* The same chain through an indirect table of n entries at `table`
 * (16-byte aligned, §2.7.5.3): one descriptor of the queue. */
int virtq_add_indirect(struct virtq *vq, const struct vbuf *bufs, unsigned n, struct vring_desc *table);
/* Put head on the available ring and publish it (the last two steps of
 * virtq_add, for a chain a guest built by hand). */
void virtq_publish(struct virtq *vq, uint16_t head);
/* Notify the device of what was made available since the last kick, unless
 * it said it does not need to know (§2.7.10: NO_NOTIFY, or avail_event with
 * EVENT_IDX); returns whether it notified. Counted in kicks/kicks_skipped. */
int virtq_kick(struct virtq *vq);
/* The same decision for the entries up to avail index `upto` only. */
int virtq_kick_upto(struct virtq *vq, uint16_t upto);
/* Used entries the driver has not read yet. */
static inline uint16_t virtq_used_pending(const struct virtq *vq)
{
	return (uint16_t)(vq->used->idx - vq->last_used);
}
/* The next used entry: its head (id) and *len; its descriptors freed.
 * -1: none. -2: the device gave back an id that was not in flight (the
 * entry is consumed, nothing freed). */
int virtq_get_used(struct virtq *vq, uint32_t *len);

/* Used buffer notifications (§2.7.7). Without EVENT_IDX: avail->flags'
 * NO_INTERRUPT. With it: used_event, which virtq_irq_enable() keeps at the
 * next entry the driver will read (re-armed by virtq_get_used()), and
 * virtq_irq_disable() puts half the index space away. */
void virtq_irq_enable(struct virtq *vq);
void virtq_irq_disable(struct virtq *vq);
/* EVENT_IDX: interrupt when the used entry at index idx is written. */
void virtq_set_used_event(struct virtq *vq, uint16_t idx);

/* ---- interrupts and waiting --------------------------------------------- */

/* The device's line to its handler: InterruptStatus read and acknowledged
 * (§4.2.2), counted, the 8259's EOI; the line unmasked, what it latched
 * before taken (2 ms), the counts zeroed. */
void virtio_irq_attach(struct virtio_dev *d);
/* Until done(arg) or `ms` milliseconds pass; returns done(arg). */
int virtio_wait(int (*done)(void *), void *arg, unsigned ms);
/* Until vq has at least n used entries not yet read. */
int virtq_wait_used(struct virtq *vq, unsigned n, unsigned ms);
/* Until d has taken at least n used-buffer interrupts in all (irqs_vring). */
int virtio_wait_irqs(struct virtio_dev *d, uint32_t n, unsigned ms);
/* Until d has taken at least n configuration-change interrupts (irqs_config). */
int virtio_wait_config_irqs(struct virtio_dev *d, uint32_t n, unsigned ms);
/* `ms` milliseconds with interrupts taken: time for something that should
 * not happen to show up. */
void virtio_delay_ms(unsigned ms);

#endif
