/* SPDX-License-Identifier: MIT */
#ifndef KVMLABS_DEVICES_H
#define KVMLABS_DEVICES_H

struct vm;

/* Each puts its device(s) on the buses; bus_unregister() and the device's
 * release() take them down again. */
int uart8250_init(struct vm *vm);
int debug_ports_init(struct vm *vm);
int testdev_init(struct vm *vm);
int fw_cfg_init(struct vm *vm);
int pc_testdev_init(struct vm *vm);

#endif
