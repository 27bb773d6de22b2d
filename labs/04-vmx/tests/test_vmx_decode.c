/* SPDX-License-Identifier: MIT */
/* Exit-qualification decoding (SDM Vol. 3 Tables 28-3, 28-5) and segment
 * access rights (Table 25-2) (kvm/vmx/vmx_decode.c). */
#include <errno.h>
#include <string.h>

#include "kvm/vmx/vmcs.h"
#include "kvm/vmx/vmx_decode.h"
#include "lab04_tests.h"

START_TEST(io_out_imm8)
{
	struct vmx_io_qual io;
	/* out %al, $0xe9 */
	ck_assert_int_eq(vmx_decode_io_qual((0xe9ull << 16) | (1u << 6) | 0, &io), 0);
	ck_assert_uint_eq(io.port, 0xe9);
	ck_assert_uint_eq(io.size, 1);
	ck_assert(!io.in && !io.string && !io.rep && io.imm);
}
END_TEST

START_TEST(io_in_dx_dword)
{
	struct vmx_io_qual io;
	/* in %dx, %eax with DX = 0x3f8 */
	ck_assert_int_eq(vmx_decode_io_qual((0x3f8ull << 16) | (1u << 3) | 3, &io), 0);
	ck_assert_uint_eq(io.port, 0x3f8);
	ck_assert_uint_eq(io.size, 4);
	ck_assert(io.in && !io.string && !io.imm);
}
END_TEST

START_TEST(io_word_and_high_port)
{
	struct vmx_io_qual io;
	ck_assert_int_eq(vmx_decode_io_qual((0xfffeull << 16) | 1, &io), 0);
	ck_assert_uint_eq(io.port, 0xfffe);
	ck_assert_uint_eq(io.size, 2);
}
END_TEST

START_TEST(io_rep_outsb)
{
	struct vmx_io_qual io;
	ck_assert_int_eq(vmx_decode_io_qual((0xe9ull << 16) | (1u << 5) | (1u << 4), &io), 0);
	ck_assert(io.string && io.rep && !io.in);
}
END_TEST

START_TEST(io_reserved_size_rejected)
{
	struct vmx_io_qual io;
	ck_assert_int_eq(vmx_decode_io_qual((0x80ull << 16) | 2, &io), -EINVAL);
	ck_assert_int_eq(vmx_decode_io_qual((0x80ull << 16) | 7, &io), -EINVAL);
}
END_TEST

START_TEST(cr_mov_to_cr0)
{
	struct vmx_cr_qual q;
	/* mov %esi, %cr0 */
	ck_assert_int_eq(vmx_decode_cr_qual(0 | (0u << 4) | (6u << 8), &q), 0);
	ck_assert_uint_eq(q.cr, 0);
	ck_assert_uint_eq(q.type, CR_ACCESS_MOV_TO_CR);
	ck_assert_uint_eq(q.gpr, 6);
}
END_TEST

START_TEST(cr_mov_from_cr3)
{
	struct vmx_cr_qual q;
	/* mov %cr3, %ebx */
	ck_assert_int_eq(vmx_decode_cr_qual(3 | (1u << 4) | (3u << 8), &q), 0);
	ck_assert_uint_eq(q.cr, 3);
	ck_assert_uint_eq(q.type, CR_ACCESS_MOV_FROM_CR);
	ck_assert_uint_eq(q.gpr, 3);
}
END_TEST

START_TEST(cr_mov_to_cr4_r15)
{
	struct vmx_cr_qual q;
	ck_assert_int_eq(vmx_decode_cr_qual(4 | (15u << 8), &q), 0);
	ck_assert_uint_eq(q.cr, 4);
	ck_assert_uint_eq(q.gpr, 15);
}
END_TEST

START_TEST(cr_clts_and_lmsw)
{
	struct vmx_cr_qual q;
	ck_assert_int_eq(vmx_decode_cr_qual(2u << 4, &q), 0);
	ck_assert_uint_eq(q.type, CR_ACCESS_CLTS);
	ck_assert_int_eq(vmx_decode_cr_qual((3u << 4) | (1u << 6) | (0x000bull << 16), &q), 0);
	ck_assert_uint_eq(q.type, CR_ACCESS_LMSW);
	ck_assert(q.lmsw_memory);
	ck_assert_uint_eq(q.lmsw_data, 0xb);
}
END_TEST

START_TEST(cr_invalid_register_rejected)
{
	struct vmx_cr_qual q;
	ck_assert_int_eq(vmx_decode_cr_qual(2, &q), -EINVAL);  /* CR2 never exits */
	ck_assert_int_eq(vmx_decode_cr_qual(5, &q), -EINVAL);
}
END_TEST

static struct kvm_segment flat(uint8_t type, uint8_t dpl)
{
	return (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = 0x08, .type = type, .present = 1, .dpl = dpl, .db = 1,
		.s = 1, .l = 0, .g = 1, .avl = 0,
	};
}

START_TEST(ar_flat_code_and_data)
{
	struct kvm_segment cs = flat(11, 0), ds = flat(3, 0), user = flat(3, 3);
	ck_assert_uint_eq(vmx_segment_access_rights(&cs), 0xc09b);
	ck_assert_uint_eq(vmx_segment_access_rights(&ds), 0xc093);
	ck_assert_uint_eq(vmx_segment_access_rights(&user), 0xc0f3);
}
END_TEST

START_TEST(ar_long_mode_code)
{
	struct kvm_segment cs = flat(11, 0);
	cs.l = 1;
	cs.db = 0;
	ck_assert_uint_eq(vmx_segment_access_rights(&cs), 0xa09b);
}
END_TEST

START_TEST(ar_tss_and_avl)
{
	struct kvm_segment tr = { .limit = 0x67, .type = 11, .present = 1, .s = 0, .avl = 1 };
	ck_assert_uint_eq(vmx_segment_access_rights(&tr), 0x108b);
}
END_TEST

START_TEST(ar_unusable)
{
	struct kvm_segment null_seg = { 0 };
	struct kvm_segment marked = flat(3, 0);
	marked.unusable = 1;
	ck_assert_uint_eq(vmx_segment_access_rights(&null_seg), VMX_AR_UNUSABLE);
	ck_assert_uint_eq(vmx_segment_access_rights(&marked), VMX_AR_UNUSABLE);
}
END_TEST

START_TEST(ar_round_trip)
{
	struct kvm_segment cs = flat(11, 0), back;
	memset(&back, 0, sizeof(back));
	vmx_segment_from_access_rights(vmx_segment_access_rights(&cs), &back);
	ck_assert_uint_eq(back.type, 11);
	ck_assert_uint_eq(back.s, 1);
	ck_assert_uint_eq(back.present, 1);
	ck_assert_uint_eq(back.db, 1);
	ck_assert_uint_eq(back.g, 1);
	ck_assert_uint_eq(back.unusable, 0);
}
END_TEST

Suite *vmx_decode_suite(void)
{
	Suite *s = suite_create("vmx_decode");
	TCase *tc = tcase_create("io");
	tcase_add_test(tc, io_out_imm8);
	tcase_add_test(tc, io_in_dx_dword);
	tcase_add_test(tc, io_word_and_high_port);
	tcase_add_test(tc, io_rep_outsb);
	tcase_add_test(tc, io_reserved_size_rejected);
	suite_add_tcase(s, tc);
	tc = tcase_create("cr");
	tcase_add_test(tc, cr_mov_to_cr0);
	tcase_add_test(tc, cr_mov_from_cr3);
	tcase_add_test(tc, cr_mov_to_cr4_r15);
	tcase_add_test(tc, cr_clts_and_lmsw);
	tcase_add_test(tc, cr_invalid_register_rejected);
	suite_add_tcase(s, tc);
	tc = tcase_create("access_rights");
	tcase_add_test(tc, ar_flat_code_and_data);
	tcase_add_test(tc, ar_long_mode_code);
	tcase_add_test(tc, ar_tss_and_avl);
	tcase_add_test(tc, ar_unusable);
	tcase_add_test(tc, ar_round_trip);
	suite_add_tcase(s, tc);
	return s;
}
