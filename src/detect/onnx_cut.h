/* SPDX-License-Identifier: MIT */
/*
 * onnx_cut.h — YOLOv8/YOLO11 exports, cut before the box decode at the
 * end of their Detect head.  OpenCV 4.6 cannot import that decode
 * (opencv/opencv#22399: its importer asserts two equal shapes unequal);
 * everything before it loads.  So the detector hands OpenCV the graph up
 * to the head's concat, 1 x (64 + C) x N, and decodes the distance bins
 * itself (yolo_post.h, YOLO_LAYOUT_V8_DFL).
 */
#ifndef FBUS_ONNX_CUT_H
#define FBUS_ONNX_CUT_H

#include <stddef.h>
#include <stdint.h>

/*
 * If the ONNX model in buf (n bytes) has a YOLOv8-style head -- a Split of
 * one tensor in two, the first part through Reshape, Transpose, Softmax
 * (the DFL), the second through Sigmoid -- write the model with its graph
 * ending at that tensor into *out (malloc'd, *outn bytes): 1.  0: no such
 * head (nothing allocated); -1: malformed or out of memory.
 */
int onnx_cut_dfl(const uint8_t *buf, size_t n, uint8_t **out, size_t *outn);

#endif
