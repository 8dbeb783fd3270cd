#include "check/Checker.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "check/Arguments.h"
#include "check/TrainBlock.h"
#include "ir/Ops.h"
#include "support/Text.h"

namespace cnnc {

namespace {

// Halide indexes buffers with 32-bit integers: no tensor of a step, batch
// included, may hold more elements than this.
constexpr int64_t kMaxElements = std::numeric_limits<int32_t>::max();
// Layers in one model (a ResNet-152 has about 500).
constexpr size_t kMaxLayers = 1000;

// Product of `dims`, or -1 if it exceeds kMaxElements.
int64_t boundedProduct(const Shape& dims, int64_t factor = 1) {
  int64_t n = factor;
  for (int64_t d : dims) {
    if (__builtin_mul_overflow(n, d, &n) || n > kMaxElements) return -1;
  }
  return n;
}

Shape withBatch(int64_t batch, const Shape& sample) {
  Shape s{batch};
  s.insert(s.end(), sample.begin(), sample.end());
  return s;
}

class Checker {
 public:
  Checker(SourceFile& file, bool syntaxOk, int chunks) : file_(file), syntaxOk_(syntaxOk), chunks_(chunks) {}

  std::optional<Graph> run(const File& ast) {
    Graph g;
    g.file = file_.name();
    if (ast.models.empty() && syntaxOk_) file_.fileError("no model in file; expected a block 'model NAME { ... }'");
    for (size_t i = 1; i < ast.models.size(); ++i) {
      file_.error(ast.models[i].loc, fmt::format("a file describes exactly one model; found a second one, '{}'",
                                                 ast.models[i].name));
      file_.note(ast.models[0].loc, "the first model is here");
    }
    for (size_t i = 1; i < ast.trains.size(); ++i) {
      file_.error(ast.trains[i].loc, "a file has at most one train block; found a second one");
      file_.note(ast.trains[0].loc, "the first train block is here");
    }
    if (!ast.trains.empty()) checkTrain(file_, ast.trains[0], g.train, locs_);
    splitBatch(g.train);
    if (!ast.models.empty()) checkModel(ast.models[0], g);
    if (file_.errorCount() > 0) return std::nullopt;
    return g;
  }

 private:
  void error(Loc loc, const std::string& message) { file_.error(loc, message); }

  // ---- the model -------------------------------------------------------

  // Where the current tensor came from, for notes in shape errors.
  struct Origin {
    Loc loc;
    std::string what;     // "the model input is declared here", ...
    Shape flattenedFrom;  // set when the vector came from a flatten
  };

  void checkModel(const Model& m, Graph& g) {
    g.model = m.name;
    Shape sample = checkInput(m);
    int64_t classes = checkClasses(m);
    if (m.stages.empty() && syntaxOk_) error(m.loc, fmt::format("model '{}' has no layers", m.name));
    std::vector<std::string> prefixes = stagePrefixes(m);

    // Every layer in order, with its stage, so "last layer" is easy.
    struct Placed {
      const Stage* stage;
      size_t stageIndex, layerIndex;
    };
    std::vector<Placed> layers;
    for (size_t si = 0; si < m.stages.size(); ++si)
      for (size_t li = 0; li < m.stages[si].layers.size(); ++li) layers.push_back({&m.stages[si], si, li});
    // Each layer becomes several Halide stages; past this, compiling would
    // take hours, so say so now.
    const bool tooMany = layers.size() > kMaxLayers;
    if (tooMany) {
      const Placed& first = layers[kMaxLayers];
      error(first.stage->layers[first.layerIndex].loc,
            fmt::format("model '{}' has {} layers; the limit is {}", m.name, layers.size(), kMaxLayers));
    }

    bool known = !sample.empty() && syntaxOk_ && !tooMany;  // shapes stop being tracked after an error
    int current = -1;
    if (known && sample.size() != 3 && !g.train.augment.empty()) {
      error(locs_.augment, fmt::format("augment shifts and flips images; this model's input is {} features, not CxHxW",
                                       sample[0]));
      file_.note(m.inputs[0].loc, "the input is declared here");
    }
    if (known) checkData(m, sample, g.train);
    if (known) {
      g.sampleShape = sample;
      current = inputTensor_ = g.input =
          g.addTensor({"images", withBatch(g.train.batch, sample), DType::F32, m.inputs[0].loc}, TensorRole::Input);
      g.labels = g.addTensor({"labels", {g.train.batch}, DType::I32, m.inputs[0].loc}, TensorRole::Labels);
    }
    Origin origin{known ? m.inputs[0].loc : Loc{}, "the model input is declared here", {}};
    Sources sources;  // named stages' outputs, as the walk passes them
    sources.from = {"the model input", known ? m.inputs[0].loc : Loc{}};
    for (size_t i = 0; i < layers.size(); ++i) {
      const Stage& stage = *layers[i].stage;
      const Layer& layer = stage.layers[layers[i].layerIndex];
      if (isSource(stage, layers[i].layerIndex)) {
        if (!readSource(g, layer, sources, current, origin)) known = false;
        continue;
      }
      const OpInfo* info = findLayer(layer.name);
      if (!info) {
        error(layer.loc, fmt::format("unknown layer '{}'; expected {}{}", layer.name, joinOr(layerNames()),
                                     didYouMean(layer.name, layerNames())));
        known = false;
        continue;
      }
      GivenArgs given;
      std::vector<int> inputs;  // add, concat: the named stages' outputs
      bool argsOk = info->takesStages ? stageArgs(*info, layer, sources, inputs)
                                      : matchArgs(file_, info->name, layer.loc, info->args, layer.args, given);
      if (info->lastOnly && i + 1 < layers.size()) {
        const Layer& next = layers[i + 1].stage->layers[layers[i + 1].layerIndex];
        error(layer.loc, fmt::format("{} must be the last layer (it gives the inference output); found '{}' "
                                     "after it",
                                     info->name, next.name));
        file_.note(next.loc, "the next layer is here");
        known = false;
      }
      if (!argsOk || !known) {
        known = false;
        continue;
      }
      Attrs attrs = layerAttrs(*info, given);
      const Shape in(g.tensors[current].shape.begin() + 1, g.tensors[current].shape.end());
      if (!checkRank(*info, layer, in, origin)) {
        known = false;
        continue;
      }
      if (info->kind == OpKind::Linear && attrs.has("in") && attrs.integer("in") != in[0]) {
        error(given.at("in")->loc, fmt::format("linear expects in={} ({}), found in={}", in[0],
                                               describeVector(in, origin), attrs.integer("in")));
        if (origin.loc.valid()) file_.note(origin.loc, origin.what);
        known = false;
        continue;
      }
      std::vector<Shape> inShapes{in};
      for (int t : inputs) inShapes.push_back(Shape(g.tensors[t].shape.begin() + 1, g.tensors[t].shape.end()));
      ShapeResult r = info->inferShape(attrs, inShapes);
      if (!r.error.empty() && info->takesStages) {
        // The value received and the stage whose shape differs, both named
        // (the rule says how they differ, and which input: r.arg).
        const size_t k = std::stoul(r.arg);
        const Arg& arg = layer.args[k - 1];
        error(arg.value.loc, fmt::format("{} of {}: {} gives {}, '{}' gives {}", info->name, r.error,
                                         sources.from.what, shapeString(inShapes[0]), arg.value.ident,
                                         shapeString(inShapes[k])));
        if (sources.from.loc.valid()) file_.note(sources.from.loc, sources.from.what + " is defined here");
        file_.note(sources.defined.at(arg.value.ident), "'" + arg.value.ident + "' is defined here");
        known = false;
        continue;
      }
      if (!r.error.empty()) {
        Loc at = r.arg.empty() || !given.count(r.arg) ? layer.loc : given.at(r.arg)->value.loc;
        error(at, fmt::format("{}: {}", info->name, r.error));
        known = false;
        continue;
      }
      const std::string& prefix = prefixes[layers[i].stageIndex];
      const size_t position = layers[i].layerIndex - (isSource(stage, 0) ? 1 : 0);
      std::string path = modulePath(prefix, stage, position);
      if (!addLayer(g, *info, attrs, layer, prefix, path, stage, position, r.shape, inputs, current)) {
        known = false;
        continue;
      }
      if (layers[i].layerIndex + 1 == stage.layers.size()) {
        // The stage's output, for the stages after it to name.
        if (!stage.name.empty()) sources.add(stage.name, current, stage.loc);
        sources.from = {stage.name.empty() ? "the stage before" : "'" + stage.name + "'", stage.loc};
      } else {
        sources.from = {stage.name.empty() ? "the layer before" : "'" + stage.name + "'", stage.loc};
      }
      if (info->kind == OpKind::Flatten && in.size() == 3)
        origin = {layer.loc, fmt::format("flattened from {} here", shapeString(in)), in};
      else if (info->kind == OpKind::Linear)
        origin = {layer.loc, fmt::format("'{}' outputs {} values", path, attrs.integer("out")), {}};
    }
    if (known && !layers.empty()) finishModel(m, g, classes, layers.back().stage->layers[layers.back().layerIndex]);
    if (known) warnUnused(m, prefixes);
  }

  // "its input is 64x7x7 = 3136 values, flattened"
  static std::string describeVector(const Shape& in, const Origin& origin) {
    if (!origin.flattenedFrom.empty())
      return fmt::format("its input is {} = {} values, flattened", shapeString(origin.flattenedFrom), in[0]);
    return fmt::format("its input has {} values", in[0]);
  }

  // 'input' is required, once, as CxHxW or a feature count.
  Shape checkInput(const Model& m) {
    if (m.inputs.empty()) {
      if (syntaxOk_) error(m.loc, fmt::format("model '{}' has no 'input'; add a line such as 'input 1x28x28'", m.name));
      return {};
    }
    for (size_t i = 1; i < m.inputs.size(); ++i) {
      error(m.inputs[i].loc, "'input' is given twice");
      file_.note(m.inputs[0].loc, "first given here");
    }
    const Value& v = m.inputs[0].shape;
    Shape s = v.kind == Value::Kind::Int ? Shape{v.intValue} : Shape(v.dims.begin(), v.dims.end());
    if (s.size() != 1 && s.size() != 3) {
      error(v.loc, fmt::format("input shape must be CxHxW (e.g. 1x28x28) or a feature count (e.g. 784), found {}",
                               v.text));
      return {};
    }
    for (int64_t d : s) {
      if (d < 1) {
        error(v.loc, fmt::format("input dimensions must be at least 1, found {}", v.text));
        return {};
      }
    }
    if (boundedProduct(s) < 0) {
      error(v.loc, fmt::format("input {} is too large (more than {} values)", v.text, kMaxElements));
      return {};
    }
    return s;
  }

  // --chunks K: the pipelines take batch / K samples a call; the training
  // step runs K of them (runtime/Chunked.h).
  void splitBatch(TrainConfig& t) {
    if (chunks_ <= 1) return;
    if (t.batch % chunks_ != 0) {
      const std::string message = fmt::format("batch {} is not a multiple of the {} chunks a distributed (or chunked) "
                                              "build splits it into; make it one, or pass --chunks N",
                                              t.batch, chunks_);
      locs_.batch.valid() ? error(locs_.batch, message) : file_.fileError(message);
      return;
    }
    t.batch /= chunks_;
    t.chunks = chunks_;
  }

  // The data format against the input (cifar10: 3x32x32; folder: CxHxW
  // of gray or RGB images), and normalize's lists against its channels.
  void checkData(const Model& m, const Shape& sample, const TrainConfig& t) {
    const std::string input = shapeString(sample);
    const int64_t channels = sample.size() == 3 ? sample[0] : 1;
    bool ok = true;
    if (t.data == "cifar10" && sample != Shape{3, 32, 32}) {
      error(locs_.data, fmt::format("data cifar10 holds 3x32x32 colour images; this model's input is {}", input));
      ok = false;
    } else if (t.data == "folder" && (sample.size() != 3 || (channels != 1 && channels != 3))) {
      error(locs_.data, fmt::format("data folder holds gray (1xHxW) or RGB (3xHxW) images; this model's input is {}", input));
      ok = false;
    }
    for (const auto& [what, list] : {std::pair{"mean", &t.normalizeMean}, std::pair{"std", &t.normalizeStd}}) {
      if (list->size() <= 1 || int64_t(list->size()) == channels) continue;
      error(locs_.normalize, fmt::format("normalize has {} values of {}; the input {} has {} channel{}", list->size(),
                                         what, input, channels, channels == 1 ? "" : "s"));
      ok = false;
    }
    if (!ok) file_.note(m.inputs[0].loc, "the input is declared here");
  }

  int64_t checkClasses(const Model& m) {
    for (size_t i = 1; i < m.classes.size(); ++i) {
      error(m.classes[i].loc, "'classes' is given twice");
      file_.note(m.classes[0].loc, "first given here");
    }
    if (m.classes.empty()) return 0;
    const Value& v = m.classes[0].count;
    if (v.intValue < 1) {
      error(v.loc, fmt::format("classes must be at least 1, found {}", v.text));
      return 0;
    }
    return v.intValue;
  }

  // The state_dict prefix of each stage: its name, or layerN (N counts
  // stages from 0) when unnamed. Reports duplicates.
  std::vector<std::string> stagePrefixes(const Model& m) {
    std::vector<std::string> prefixes;
    std::map<std::string, const Stage*> seen;
    for (size_t i = 0; i < m.stages.size(); ++i) {
      const Stage& s = m.stages[i];
      prefixes.push_back(s.name.empty() ? fmt::format("layer{}", i) : s.name);
      // A stage's name may start another stage (v2), so it must not read as a layer.
      if (findLayer(s.name))
        error(s.loc, fmt::format("stage name '{}' is the name of a layer; rename it", s.name));
      auto [it, fresh] = seen.emplace(prefixes.back(), &s);
      if (fresh) continue;
      const Stage& first = *it->second;
      if (!s.name.empty() && !first.name.empty()) {
        error(s.loc, fmt::format("duplicate stage name '{}'", s.name));
        file_.note(first.loc, "first used here");
      } else {
        const Stage& named = s.name.empty() ? first : s;
        const Stage& unnamed = s.name.empty() ? s : first;
        error(named.loc, fmt::format("stage name '{}' is also the name of an unnamed stage; rename it", named.name));
        file_.note(unnamed.loc, fmt::format("this unnamed stage is called '{}'", named.name));
      }
    }
    return prefixes;
  }

  // The PyTorch module path of a layer: `conv1.0`, or just `out` when the
  // stage holds a single layer.
  static std::string modulePath(const std::string& prefix, const Stage& stage, size_t layerIndex) {
    return realLayers(stage) == 1 ? prefix : fmt::format("{}.{}", prefix, layerIndex);
  }

  // ---- graphs: sources and the stages add names ------------------------

  // Whether the stage's layer at `index` names the stage it starts from
  // (`skip: block1 -> conv2d(...)`, `input` for the model's input): the
  // first of several, written without parentheses, and not a layer.
  static bool isSource(const Stage& stage, size_t index) {
    const Layer& first = stage.layers[0];
    return index == 0 && stage.layers.size() > 1 && !first.hasParens && first.args.empty() && !findLayer(first.name);
  }
  // The layers of a stage after its source: what positions count.
  static size_t realLayers(const Stage& stage) { return stage.layers.size() - (isSource(stage, 0) ? 1 : 0); }

  // The outputs of the named stages passed so far, and where the value
  // a layer receives comes from (for messages).
  struct Named {
    std::string what;  // "'stem'", "the model input"
    Loc loc;
  };
  struct Sources {
    std::map<std::string, int> outputs;
    std::map<std::string, Loc> defined;
    Named from;
    void add(const std::string& name, int tensor, Loc loc) {
      outputs[name] = tensor;
      defined[name] = loc;
    }
  };

  // `input` or the output of a stage defined above; false after an error.
  bool lookUp(const std::string& name, Loc loc, const Sources& sources, int& tensor) {
    if (name == "input") {
      tensor = inputTensor_;
      return true;
    }
    auto it = sources.outputs.find(name);
    if (it == sources.outputs.end()) {
      error(loc, fmt::format("'{}' is not a stage defined above", name));
      return false;
    }
    tensor = it->second;
    return true;
  }

  bool readSource(const Graph& g, const Layer& layer, Sources& sources, int& current, Origin& origin) {
    int tensor = -1;
    if (!lookUp(layer.name, layer.loc, sources, tensor)) return false;
    if (tensor < 0) return false;  // the input's shape is not known (an earlier error)
    current = tensor;
    const bool input = layer.name == "input";
    sources.from = {input ? "the model input" : "'" + layer.name + "'",
                    input ? g.tensors[tensor].loc : sources.defined.at(layer.name)};
    origin = {sources.from.loc, input ? "the model input is declared here" : "'" + layer.name + "' is defined here", {}};
    return true;
  }

  // `warning: stage 'x' is never used`: a stage whose output no stage
  // reads (the next stage reads it unless it starts from a source; a
  // source, add and concat read the stage they name), but the last, the
  // model's output.
  void warnUnused(const Model& m, const std::vector<std::string>& prefixes) {
    std::set<std::string> read;
    for (size_t i = 0; i < m.stages.size(); ++i) {
      const Stage& s = m.stages[i];
      if (isSource(s, 0))
        read.insert(s.layers[0].name);
      else if (i > 0)
        read.insert(prefixes[i - 1]);
      for (const Layer& layer : s.layers) {
        const OpInfo* info = findLayer(layer.name);
        if (!info || !info->takesStages) continue;
        for (const Arg& arg : layer.args) read.insert(arg.value.ident);
      }
    }
    for (size_t i = 0; i + 1 < m.stages.size(); ++i) {
      if (read.count(prefixes[i])) continue;
      // Its parameters would have no gradient: an error, not a warning
      // (PyTorch would leave them untrained; here it is surely a mistake).
      bool trained = false;
      for (const Layer& layer : m.stages[i].layers)
        if (const OpInfo* info = findLayer(layer.name); info && info->params) trained = true;
      if (trained)
        error(m.stages[i].loc, fmt::format("stage '{}' is never used, so its parameters would never train; read it "
                                           "from a later stage or remove it",
                                           prefixes[i]));
      else
        file_.warning(m.stages[i].loc, fmt::format("stage '{}' is never used", prefixes[i]));
    }
  }

  // add(a, b, ...): stage names, positional, each defined above.
  bool stageArgs(const OpInfo& info, const Layer& layer, const Sources& sources, std::vector<int>& inputs) {
    if (layer.args.empty()) {
      error(layer.loc, fmt::format("'{}' needs the names of the stages to {}, as in {}(stem)", info.name,
                                   info.name == std::string("add") ? "add" : "join", info.name));
      return false;
    }
    bool ok = true;
    for (const Arg& arg : layer.args) {
      if (!arg.name.empty() || arg.value.kind != Value::Kind::Ident) {
        error(arg.loc, fmt::format("'{}' takes stage names, found {}", info.name,
                                   arg.name.empty() ? arg.value.describe() : "'" + arg.name + "='"));
        ok = false;
        continue;
      }
      int tensor = -1;
      if (!lookUp(arg.value.ident, arg.value.loc, sources, tensor) || tensor < 0) {
        ok = false;
        continue;
      }
      inputs.push_back(tensor);
    }
    return ok;
  }

  // conv2d and pools need CxHxW; linear and softmax need a vector.
  bool checkRank(const OpInfo& info, const Layer& layer, const Shape& in, const Origin& origin) {
    std::string need = info.input;
    if (need == "image" && in.size() != 3) {
      error(layer.loc, fmt::format("{} needs a CxHxW input, but its input is a vector of {} values", info.name, in[0]));
      if (origin.loc.valid()) file_.note(origin.loc, origin.what);
      return false;
    }
    if (need == "vector" && in.size() != 1) {
      error(layer.loc, fmt::format("{} needs a vector input, found {}; add 'flatten' before it", info.name,
                                   shapeString(in)));
      return false;
    }
    return true;
  }

  // Adds the layer's parameters and op to the graph; false if a tensor
  // would be too large.
  bool addLayer(Graph& g, const OpInfo& info, const Attrs& attrs, const Layer& layer, const std::string& prefix,
                const std::string& path, const Stage& stage, size_t layerIndex, const Shape& out,
                const std::vector<int>& inputs, int& current) {
    const Shape in(g.tensors[current].shape.begin() + 1, g.tensors[current].shape.end());
    if (boundedProduct(out, g.train.batch) < 0) {
      error(layer.loc, fmt::format("{} output {} is too large at batch {} (more than {} values)", info.name,
                                   shapeString(out), g.train.batch, kMaxElements));
      if (locs_.batch.valid()) file_.note(locs_.batch, "batch size set here");
      return false;
    }
    std::vector<ParamSpec> params = info.params ? info.params(attrs, in) : std::vector<ParamSpec>{};
    for (const ParamSpec& p : params) {
      if (boundedProduct(p.shape) < 0) {
        error(layer.loc, fmt::format("{} {} {} is too large (more than {} values)", info.name, p.suffix,
                                     shapeString(p.shape), kMaxElements));
        return false;
      }
    }
    Op op{info.kind, {current}, -1, attrs, layer.loc, prefix, static_cast<int>(layerIndex)};
    op.operands.insert(op.operands.end(), inputs.begin(), inputs.end());
    op.inputs = static_cast<int>(op.operands.size());
    for (const ParamSpec& p : params) {
      int id = g.addTensor({fmt::format("{}.{}", path, p.suffix), p.shape, DType::F32, layer.loc, p.init},
                           p.buffer ? TensorRole::Buffer : TensorRole::Param);
      (p.buffer ? g.buffers : g.params).push_back(id);
      op.operands.push_back(id);
    }
    if (info.countsBatches) g.counters.push_back(path + ".num_batches_tracked");
    std::string activation = realLayers(stage) == 1 ? path + ".0" : path;
    op.result = current = g.addTensor({activation, withBatch(g.train.batch, out), DType::F32, layer.loc},
                                      TensorRole::Activation);
    g.ops.push_back(op);
    return true;
  }

  // The output must be a vector of class scores; `classes`, when given,
  // must match it. Adds the loss.
  void finishModel(const Model& m, Graph& g, int64_t classes, const Layer& last) {
    const Tensor& out = g.tensors[g.ops.back().result];
    const Shape sample(out.shape.begin() + 1, out.shape.end());
    if (sample.size() != 1) {
      error(last.loc, fmt::format("the model must end in a vector of class scores, found {}; end it with 'flatten' "
                                  "and 'linear(N)'",
                                  shapeString(sample)));
      return;
    }
    if (classes != 0 && classes != sample[0]) {
      error(m.classes[0].loc,
            fmt::format("classes is {} but the last layer outputs {} values", classes, sample[0]));
      file_.note(last.loc, "the last layer is here");
      return;
    }
    if (g.train.data == "cifar10" && sample[0] != 10) {
      error(locs_.data, fmt::format("data cifar10 has 10 classes; model '{}' outputs {} scores", m.name, sample[0]));
      file_.note(m.classes.empty() ? last.loc : m.classes[0].loc, "the model's classes are set here");
    }
    g.classes = sample[0];
    g.output = g.logits = g.ops.back().result;
    if (g.ops.back().kind == OpKind::Softmax) g.logits = g.ops.back().operands[0];
    bool ce = g.train.loss == LossKind::CrossEntropy;
    Op loss{ce ? OpKind::CrossEntropy : OpKind::Mse, {ce ? g.logits : g.output, g.labels}, -1, {}, locs_.loss, "loss", 0};
    loss.inputs = 2;
    loss.result = g.loss = g.addTensor({"loss", {}, DType::F32, locs_.loss}, TensorRole::Activation);
    g.ops.push_back(loss);
  }

  SourceFile& file_;
  bool syntaxOk_;
  int chunks_;
  TrainLocs locs_;
  int inputTensor_ = -1;  // the model input's tensor, once its shape is known
};

}  // namespace

std::optional<Graph> check(SourceFile& file, const File& ast, bool syntaxOk, int chunks) {
  return Checker(file, syntaxOk, chunks).run(ast);
}

}  // namespace cnnc
