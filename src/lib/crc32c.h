/* SPDX-License-Identifier: MIT */
/*
 * crc32c.h — CRC-32C (Castagnoli), the checksum of stream frame headers.
 */
#ifndef FBUS_CRC32C_H
#define FBUS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C of n bytes, continuing from crc (start with 0).
 * crc32c(0, "123456789", 9) == 0xe3069283.  Never blocks. Never allocates. */
uint32_t fbusi_crc32c(uint32_t crc, const void *data, size_t n);

#endif
