/* A sample of the VMCS encodings, for the vmcs-fields table. */
// @region vmcs_fields
enum vmcs_field {
	GUEST_ES_SELECTOR               = 0x00000800,
	HOST_CS_SELECTOR                = 0x00000c02,
	IO_BITMAP_A                     = 0x00002000,
	IO_BITMAP_A_HIGH                = 0x00002001,
	PIN_BASED_VM_EXEC_CONTROL       = 0x00004000,
	VM_EXIT_REASON                  = 0x00004402,
	GUEST_RIP                       = 0x0000681e,
	HOST_RIP                        = 0x00006c16,
};
// @end
