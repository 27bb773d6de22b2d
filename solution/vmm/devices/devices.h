/* SPDX-License-Identifier: MIT */
#ifndef KVMLABS_DEVICES_H
#define KVMLABS_DEVICES_H

struct vm;

int uart8250_setup(struct vm *vm);
int debug_ports_setup(struct vm *vm);
int testdev_setup(struct vm *vm);
int rom_setup(struct vm *vm);

#endif
