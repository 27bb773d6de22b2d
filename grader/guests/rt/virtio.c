/* SPDX-License-Identifier: MIT */
/*
 * The lab 09 guests' virtio driver (virtio.h): the virtio-mmio transport,
 * split virtqueues, the devices' interrupts and bounded waits. Shaped after
 * Linux's drivers/virtio/virtio_ring.c (a free list threaded through the
 * descriptors' next fields, the event-index tests) at the size of a test.
 */
#include "virtio.h"

/* ---- the guard tick: 8254 channel 0, mode 2, 1 ms, IRQ 0 ----------------- */

static volatile uint32_t guard_ticks;

static void guard_tick(struct trap_frame *f)
{
	(void)f;
	guard_ticks++;
	pic_eoi(0);
}

/* The device on each 8259 line, for the shared handler. */
static struct virtio_dev *line_dev[16];

static void virtio_irq(struct trap_frame *f)
{
	unsigned line = (f->vector - TRAP_IRQ_BASE) & 15;
	struct virtio_dev *d = line_dev[line];
	if (d) {
		/* §4.2.2: read what happened, acknowledge exactly that. */
		uint32_t isr = virtio_read(d, VIRTIO_MMIO_INTERRUPT_STATUS);
		if (isr)
			virtio_write(d, VIRTIO_MMIO_INTERRUPT_ACK, isr);
		else
			d->irqs_empty++;
		if (isr & VIRTIO_MMIO_INT_VRING)
			d->irqs_vring++;
		if (isr & VIRTIO_MMIO_INT_CONFIG)
			d->irqs_config++;
		d->isr_seen |= isr;
		d->irqs++;
	}
	pic_eoi(line);
}

void virtio_rt_init(void)
{
	irq_idt_init();
	pit_ch0_stop();
	pic_init(TRAP_IRQ_BASE, (uint8_t)~((1u << 0) | (1u << 2)), 0xff);
	irq_handler[TRAP_IRQ_BASE + 0] = guard_tick;
}

void virtio_irq_attach(struct virtio_dev *d)
{
	line_dev[d->irq & 15] = d;
	irq_handler[TRAP_IRQ_BASE + (d->irq & 15)] = virtio_irq;
	if (d->irq >= 8)
		outb(PIC2_DATA, (uint8_t)(inb(PIC2_DATA) & ~(1u << (d->irq - 8))));
	else
		outb(PIC1_DATA, (uint8_t)(inb(PIC1_DATA) & ~(1u << d->irq)));
	/* An 8259 latches edges on a masked line too (8259A datasheet: IRR
	 * is independent of IMR): take what came before, count from here. */
	virtio_delay_ms(2);
	d->irqs = d->irqs_empty = d->irqs_vring = d->irqs_config = d->isr_seen = 0;
}

int virtio_wait(int (*done)(void *), void *arg, unsigned ms)
{
	/* Interrupts already pending are taken first, even when there is
	 * nothing to wait for: STI and the instruction of its shadow, then
	 * an access that exits to the VMM, then CLI. A host that delivers
	 * interrupts only at exits (README.md "Host needs", irq-window) takes
	 * them there; the PVM host of HOST-KVM.md does not at a port the
	 * kernel serves itself (the 8259's), so it is the test device's. */
	__asm__ volatile("sti; nop" : : : "memory");
	(void)inl(ABI_TESTDEV_PORT + ABI_TESTDEV_ID);
	cli();
	if (done(arg))
		return 1;
	uint32_t start = guard_ticks;
	int ok;
	pit_ch0_start(2, (uint16_t)(PIT_FREQ_HZ / 1000));
	for (;;) {
		cli();
		ok = done(arg);
		if (ok || guard_ticks - start >= ms)
			break;
		/* STI's shadow covers the HLT: an interrupt that comes after
		 * the test above still wakes it (SDM Vol. 2B, STI). */
		__asm__ volatile("sti; hlt" : : : "memory");
	}
	pit_ch0_stop();
	return ok;
}

struct used_wait {
	struct virtq *vq;
	unsigned n;
};

static int used_arrived(void *arg)
{
	struct used_wait *w = arg;
	return virtq_used_pending(w->vq) >= w->n;
}

int virtq_wait_used(struct virtq *vq, unsigned n, unsigned ms)
{
	struct used_wait w = { vq, n };
	return virtio_wait(used_arrived, &w, ms);
}

struct irq_wait {
	struct virtio_dev *d;
	uint32_t n;
};

static int vring_irqs_arrived(void *arg)
{
	struct irq_wait *w = arg;
	return w->d->irqs_vring >= w->n;
}

static int config_irqs_arrived(void *arg)
{
	struct irq_wait *w = arg;
	return w->d->irqs_config >= w->n;
}

int virtio_wait_irqs(struct virtio_dev *d, uint32_t n, unsigned ms)
{
	struct irq_wait w = { d, n };
	return virtio_wait(vring_irqs_arrived, &w, ms);
}

int virtio_wait_config_irqs(struct virtio_dev *d, uint32_t n, unsigned ms)
{
	struct irq_wait w = { d, n };
	return virtio_wait(config_irqs_arrived, &w, ms);
}

static int never(void *arg)
{
	(void)arg;
	return 0;
}

void virtio_delay_ms(unsigned ms)
{
	virtio_wait(never, NULL, ms);
}

/* ---- the transport ------------------------------------------------------ */

int virtio_probe(struct virtio_dev *d, unsigned slot)
{
	return virtio_probe_at(d, ABI_VIRTIO_MMIO_GPA + slot * ABI_VIRTIO_MMIO_SIZE, slot, ABI_VIRTIO_IRQ(slot));
}

int virtio_probe_at(struct virtio_dev *d, uintptr_t base, unsigned slot, unsigned irq)
{
	memset(d, 0, sizeof(*d));
	d->slot = slot;
	d->base = base;
	d->irq = irq;
	/* §4.2.3.1: magic and version first; DeviceID 0 is a placeholder. */
	if (virtio_read(d, VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MMIO_MAGIC || virtio_read(d, VIRTIO_MMIO_VERSION) != 2)
		return 0;
	d->device_id = virtio_read(d, VIRTIO_MMIO_DEVICE_ID);
	return d->device_id != 0;
}

uint64_t virtio_device_features(const struct virtio_dev *d)
{
	virtio_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	uint64_t hi = virtio_read(d, VIRTIO_MMIO_DEVICE_FEATURES);
	virtio_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	return hi << 32 | virtio_read(d, VIRTIO_MMIO_DEVICE_FEATURES);
}

void virtio_set_driver_features(const struct virtio_dev *d, uint64_t f)
{
	virtio_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	virtio_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
	virtio_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	virtio_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
}

int virtio_reset(const struct virtio_dev *d)
{
	virtio_write(d, VIRTIO_MMIO_STATUS, 0);
	for (unsigned i = 0; i < 100; i++)
		if (virtio_status(d) == 0)
			return 1;
	return 0;
}

int virtio_negotiate(struct virtio_dev *d, uint64_t want)
{
	if (!virtio_reset(d))
		return 0;
	virtio_write(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	virtio_write(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	d->offered = virtio_device_features(d);
	d->features = d->offered & want;
	virtio_set_driver_features(d, d->features);
	virtio_write(d, VIRTIO_MMIO_STATUS,
		     VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
	/* §2.2: the device says no by leaving FEATURES_OK clear. */
	return (virtio_status(d) & VIRTIO_CONFIG_S_FEATURES_OK) != 0;
}

void virtio_driver_ok(const struct virtio_dev *d)
{
	virtio_write(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
						    VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
}

uint32_t virtio_config32(const struct virtio_dev *d, uint32_t off)
{
	return virtio_read(d, VIRTIO_MMIO_CONFIG + off);
}

uint64_t virtio_config64(const struct virtio_dev *d, uint32_t off)
{
	uint32_t gen, lo, hi;
	unsigned tries = 0;
	do {
		gen = virtio_read(d, VIRTIO_MMIO_CONFIG_GENERATION);
		lo = virtio_config32(d, off);
		hi = virtio_config32(d, off + 4);
	} while (virtio_read(d, VIRTIO_MMIO_CONFIG_GENERATION) != gen && ++tries < 4);
	return (uint64_t)hi << 32 | lo;
}

/* ---- queues ------------------------------------------------------------- */

int virtq_program(const struct virtio_dev *d, unsigned index, uint32_t size, uint64_t desc, uint64_t avail,
		  uint64_t used)
{
	virtio_write(d, VIRTIO_MMIO_QUEUE_SEL, index);
	virtio_write(d, VIRTIO_MMIO_QUEUE_NUM, size);
	virtio_write(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	virtio_write(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	virtio_write(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)avail);
	virtio_write(d, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(avail >> 32));
	virtio_write(d, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)used);
	virtio_write(d, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(used >> 32));
	virtio_write(d, VIRTIO_MMIO_QUEUE_READY, 1);
	return virtio_read(d, VIRTIO_MMIO_QUEUE_READY) == 1;
}

/* Word stores: every guest instruction may be emulated (README.md, "Writing
 * guests for an emulating host"), so a ring is cleared a word at a time. */
static void zero_words(void *p, unsigned bytes)
{
	volatile uint32_t *w = p;
	for (unsigned i = 0; i < bytes / 4; i++)
		w[i] = 0;
}

int virtq_setup(struct virtq *vq, struct virtio_dev *d, unsigned index, unsigned size, struct virtq_area *area)
{
	if (size == 0 || size > VIRTQ_MAX)
		return 0;
	/* §2.7: the table 16-aligned (area is), the available ring 2-aligned
	 * right after it, the used ring 4-aligned after that. */
	unsigned avail_off = 16 * size, used_off = (avail_off + 6 + 2 * size + 3) & ~3u;
	zero_words(area, (used_off + 6 + 8 * size + 3) & ~3u);
	zero_words(vq, sizeof(*vq) & ~3u);
	vq->dev = d;
	vq->index = (uint16_t)index;
	vq->size = (uint16_t)size;
	vq->desc = (volatile struct vring_desc *)area->bytes;
	vq->avail = (volatile struct vring_avail *)(area->bytes + avail_off);
	vq->used = (volatile struct vring_used *)(area->bytes + used_off);
	vq->used_event = &vq->avail->ring[size];
	vq->avail_event = (volatile uint16_t *)&vq->used->ring[size];
	vq->event_idx = !!(d->features & VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX));
	vq->indirect = !!(d->features & VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC));
	for (unsigned i = 0; i < size; i++)
		vq->desc[i].next = (uint16_t)(i + 1);
	vq->num_free = (uint16_t)size;
	vq->rearm = 1;
	return virtq_program(d, index, size, (uintptr_t)vq->desc, (uintptr_t)vq->avail, (uintptr_t)vq->used);
}

void virtq_publish(struct virtq *vq, uint16_t head)
{
	if (head < vq->size)
		vq->busy[head] = 1;
	vq->avail->ring[vq->avail_idx & (vq->size - 1)] = head;
	/* §2.7.13.3: the entry (and the descriptors) before idx. */
	virtio_barrier();
	vq->avail->idx = ++vq->avail_idx;
}

int virtq_add(struct virtq *vq, const struct vbuf *bufs, unsigned n)
{
	if (n == 0 || n > vq->num_free)
		return -1;
	uint16_t head = vq->free_head, i = head;
	for (unsigned k = 0; k < n; k++) {
		volatile struct vring_desc *d = &vq->desc[i];
		d->addr = (uintptr_t)bufs[k].addr;
		d->len = bufs[k].len;
		/* next already links the free list: it is the chain's next. */
		d->flags = (uint16_t)((bufs[k].write ? VRING_DESC_F_WRITE : 0) | (k + 1 < n ? VRING_DESC_F_NEXT : 0));
		i = d->next;
	}
	vq->free_head = i;
	vq->num_free = (uint16_t)(vq->num_free - n);
	virtq_publish(vq, head);
	return head;
}

int virtq_add_indirect(struct virtq *vq, const struct vbuf *bufs, unsigned n, struct vring_desc *table)
{
	if (n == 0 || vq->num_free == 0)
		return -1;
	for (unsigned k = 0; k < n; k++) {
		table[k].addr = (uintptr_t)bufs[k].addr;
		table[k].len = bufs[k].len;
		table[k].flags = (uint16_t)((bufs[k].write ? VRING_DESC_F_WRITE : 0) | (k + 1 < n ? VRING_DESC_F_NEXT : 0));
		table[k].next = (uint16_t)(k + 1);
	}
	uint16_t head = vq->free_head;
	volatile struct vring_desc *d = &vq->desc[head];
	vq->free_head = d->next;
	vq->num_free--;
	d->addr = (uintptr_t)table;
	d->len = 16 * n;
	d->flags = VRING_DESC_F_INDIRECT;
	virtq_publish(vq, head);
	return head;
}

int virtq_kick_upto(struct virtq *vq, uint16_t upto)
{
	uint16_t old = vq->kicked_idx;
	vq->kicked_idx = upto;
	/* §2.7.13.4: idx out before the device's wish is read. */
	virtio_mb();
	int need = vq->event_idx ? vring_need_event(*vq->avail_event, upto, old)
				 : !(vq->used->flags & VRING_USED_F_NO_NOTIFY);
	if (need) {
		virtio_write(vq->dev, VIRTIO_MMIO_QUEUE_NOTIFY, vq->index);
		vq->kicks++;
	} else {
		vq->kicks_skipped++;
	}
	return need;
}

int virtq_kick(struct virtq *vq)
{
	return virtq_kick_upto(vq, vq->avail_idx);
}

int virtq_get_used(struct virtq *vq, uint32_t *len)
{
	if (vq->used->idx == vq->last_used)
		return -1;
	/* §2.7.8: the device wrote the entry before idx. */
	virtio_barrier();
	volatile struct vring_used_elem *e = &vq->used->ring[vq->last_used & (vq->size - 1)];
	uint32_t id = e->id;
	if (len)
		*len = e->len;
	vq->last_used++;
	if (vq->event_idx && vq->rearm) {
		*vq->used_event = vq->last_used;
		virtio_mb();
	}
	if (id >= vq->size || !vq->busy[id])
		return -2;
	vq->busy[id] = 0;
	uint16_t last = (uint16_t)id, n = 1;
	while ((vq->desc[last].flags & VRING_DESC_F_NEXT) && n < vq->size) {
		last = vq->desc[last].next;
		n++;
	}
	vq->desc[last].next = vq->free_head;
	vq->free_head = (uint16_t)id;
	vq->num_free = (uint16_t)(vq->num_free + n);
	return (int)id;
}

void virtq_irq_enable(struct virtq *vq)
{
	if (vq->event_idx) {
		vq->rearm = 1;
		*vq->used_event = vq->last_used;
	} else {
		vq->avail->flags = 0;
	}
	virtio_mb();
}

void virtq_irq_disable(struct virtq *vq)
{
	if (vq->event_idx) {
		/* §2.7.7: the flags stay 0 with EVENT_IDX; an index half the
		 * ring space away is one the device will not reach. */
		vq->rearm = 0;
		*vq->used_event = (uint16_t)(vq->last_used + 0x8000);
	} else {
		vq->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	}
	virtio_mb();
}

void virtq_set_used_event(struct virtq *vq, uint16_t idx)
{
	vq->rearm = 0;
	*vq->used_event = idx;
	virtio_mb();
}
