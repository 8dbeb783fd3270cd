// What a run reads besides its pipelines: the weights and the dataset.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "Dataset.h"
#include "Model.h"
#include "Safetensors.h"
#include "Session.h"

namespace cnnc_rt {

// PyTorch's default initialisation of nn.Conv2d and nn.Linear:
// kaiming_uniform_(a=sqrt(5)) for weights, i.e. U(-1/sqrt(fan_in),
// 1/sqrt(fan_in)), and the same bound for the bias; from `seed`, the same
// numbers on every machine. Batch norm: weight and running_var ones, bias
// and running_mean zeros, num_batches_tracked 0.
void initialise(const ModelSpec& spec, Session& s, uint64_t seed);

// What a checkpoint holds of a model, in state_dict order: the parameters,
// the buffers (F32) and the batch counters (I64 scalars).
std::vector<TensorView> modelTensors(const ModelSpec& spec, const Session& s);
// Those tensors from `tensors` into the session, each removed from the
// map; false with `error` naming the file and the tensor for a missing or
// misshapen one.
bool takeModelTensors(const ModelSpec& spec, const std::string& path, std::map<std::string, LoadedTensor>& tensors,
                      Session& s, std::string& error);

// Weights from a safetensors file with the model's PyTorch names (a cnnc
// checkpoint or PyTorch's state_dict, buffers included); false with
// `error` naming the file and the tensor for a missing, extra or
// misshapen one.
bool loadWeights(const ModelSpec& spec, const std::string& path, Session& s, std::string& error);
// The weights as safetensors, written in one step (AtomicFile.h).
bool saveWeights(const ModelSpec& spec, const std::string& path, const Session& s, int64_t epoch, std::string& error);

// A part of the dataset in `dir` (empty: data/mnist or data/cifar10, as
// the model's data says), in the model's format, checked against the model
// (image size and channels, labels below its classes, a folder's class
// count); false after a message. `progress`: a folder's loading shows it.
bool loadData(const ModelSpec& spec, const std::string& dir, Part part, Dataset& data, bool progress = false);

}  // namespace cnnc_rt
