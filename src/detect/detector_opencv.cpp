/* SPDX-License-Identifier: MIT */
/*
 * detector_opencv.cpp — the OpenCV DNN backend, the only C++ in framebus.
 * It loads Darknet and ONNX models and runs the forward pass on a blob the
 * C side prepared; pre- and post-processing stay in C.  No exception
 * leaves this file: each becomes an error code and a message.
 */
#include "dnn_backend.h"

#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/dnn.hpp>

#include <cstdio>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

struct dnn_net {
	cv::dnn::Net net;
	std::vector<std::string> out_names;
	std::vector<cv::Mat> outs;
};

static void
set_err(char *err, size_t errlen, const char *what)
{
	std::string s(what);

	/* OpenCV's messages carry a file:line prefix and a trailing newline;
	 * keep the part a user can act on. */
	size_t p = s.find(") ");
	if (s.rfind("OpenCV(", 0) == 0 && p != std::string::npos) {
		size_t q = s.find(": error: ", p);
		if (q != std::string::npos)
			s = s.substr(q + 9);
	}
	while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
		s.pop_back();
	std::snprintf(err, errlen, "%s", s.c_str());
}

extern "C" int
dnn_open(struct dnn_net **out, const char *model, const char *weights,
         const void *onnx, size_t onnx_len, int threads, char *err,
         size_t errlen)
{
	*out = nullptr;
	try {
		cv::utils::logging::setLogLevel(
			cv::utils::logging::LOG_LEVEL_SILENT);
		if (threads > 0)
			cv::setNumThreads(threads);
		dnn_net *d = new dnn_net;
		try {
			if (weights)
				d->net = cv::dnn::readNetFromDarknet(model,
				                                     weights);
			else if (onnx)
				d->net = cv::dnn::readNetFromONNX(
					static_cast<const char *>(onnx),
					onnx_len);
			else
				d->net = cv::dnn::readNet(model);
			if (d->net.empty())
				throw std::runtime_error("OpenCV loaded an "
				                         "empty network");
			d->net.setPreferableBackend(
				cv::dnn::DNN_BACKEND_OPENCV);
			d->net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
			for (const auto &n : d->net.getUnconnectedOutLayersNames())
				d->out_names.push_back(n);
		} catch (...) {
			delete d;
			throw;
		}
		*out = d;
		return 0;
	} catch (const cv::Exception &e) {
		set_err(err, errlen, e.what());
	} catch (const std::bad_alloc &) {
		set_err(err, errlen, "out of memory");
		return FBUS_ENOMEM;
	} catch (const std::exception &e) {
		set_err(err, errlen, e.what());
	}
	return FBUS_EINVAL;
}

extern "C" int
dnn_forward(struct dnn_net *d, const float *blob, int h, int w,
            struct det_tensor *outs, int max_outs, char *err,
            size_t errlen)
{
	try {
		int sizes[4] = { 1, 3, h, w };
		/* A header over the C blob: no copy on our side. */
		cv::Mat in(4, sizes, CV_32F, const_cast<float *>(blob));

		d->net.setInput(in);
		d->net.forward(d->outs, d->out_names);
		int n = 0;
		for (const cv::Mat &m : d->outs) {
			if (n == max_outs)
				break;
			if (m.type() != CV_32F || !m.isContinuous() ||
			    m.dims > 4) {
				set_err(err, errlen,
				        "network output is not a dense float "
				        "tensor of at most 4 dimensions");
				return FBUS_EIO;
			}
			outs[n].data = m.ptr<float>();
			outs[n].ndims = m.dims;
			for (int i = 0; i < 4; i++)
				outs[n].dims[i] = i < m.dims ? m.size[i] : 0;
			n++;
		}
		return n;
	} catch (const cv::Exception &e) {
		set_err(err, errlen, e.what());
	} catch (const std::bad_alloc &) {
		set_err(err, errlen, "out of memory");
	} catch (const std::exception &e) {
		set_err(err, errlen, e.what());
	}
	return FBUS_EIO;
}

extern "C" void
dnn_close(struct dnn_net *d)
{
	delete d;
}
