# lit configuration: every .cnn file under tests/lit holds its own RUN and
# CHECK lines (see the MLIR Toy tests).
import os
import lit.formats

config.name = "cnnc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".cnn"]
config.test_source_root = os.path.join(config.cnnc_src_root, "tests", "lit")
config.test_exec_root = os.path.join(config.cnnc_tools_dir, "tests", "lit-out")
config.excludes = ["Inputs"]

config.substitutions.append(("%models", os.path.join(config.cnnc_src_root, "models")))
# The trainer of models/mnist.cnn (built once per build) and the real MNIST
# (scripts/fetch-mnist.sh puts it there).
config.substitutions.append(("%mnist_net", config.trainer))
config.substitutions.append(("%lenet5_net", config.lenet5_trainer))
config.substitutions.append(("%kill_at", config.kill_at))
config.substitutions.append(("%count_malloc", config.count_malloc))
config.substitutions.append(("%mnist_net_cuda", config.cuda_trainer))
config.substitutions.append(("%reference", os.path.join(config.cnnc_src_root, "tests", "reference")))
config.substitutions.append(("%data", os.path.join(config.cnnc_src_root, "data", "mnist")))
config.suffixes = [".cnn", ".test"]
config.environment["PATH"] = os.pathsep.join(
    [config.cnnc_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", "/usr/bin:/bin")])

# The CPU's vector extensions, for tests that run code built for them.
try:
    with open("/proc/cpuinfo") as cpuinfo:
        flags = next((l.split(":", 1)[1].split() for l in cpuinfo if l.startswith("flags")), [])
except OSError:
    flags = []
if "avx2" in flags and "fma" in flags:
    config.available_features.add("avx2")

# The checked build (ASan + UBSan) brings its own allocator: tests that
# interpose malloc do not apply there.
if config.sanitized:
    config.available_features.add("asan")
