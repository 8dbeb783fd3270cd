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
config.substitutions.append(("%kill_at", config.kill_at))
config.substitutions.append(("%count_malloc", config.count_malloc))
# The trainers, each built once per build (tests/CMakeLists.txt): of
# models/mnist.cnn and models/lenet5.cnn for the CPU; of mnist for the CPU,
# CUDA and OpenCL; of the other models for the CPU and OpenCL. The longer
# names come first: lit substitutes in order. Then the real MNIST
# (scripts/fetch-mnist.sh puts it there).
config.substitutions.append(("%mnist_best_net_opencl", config.mnist_best_opencl_trainer))
config.substitutions.append(("%colour_net_opencl", config.colour_opencl_trainer))
config.substitutions.append(("%mnist_net_mpi", config.mnist_mpi_trainer))
config.substitutions.append(("%lenet5_net_mpi", config.lenet5_mpi_trainer))
config.substitutions.append(("%resnet_net_mpi", config.resnet_mpi_trainer))
# mpirun on a machine of few cores, as root in CI's container.
config.substitutions.append(("%mpirun", "mpirun --allow-run-as-root --oversubscribe"))
config.substitutions.append(("%mpi_faults", "python3 " + os.path.join(config.cnnc_src_root, "tests", "lit", "trainer", "Inputs", "mpi_faults.py")))
config.substitutions.append(("%folder_gray_net", config.folder_gray_trainer))
config.substitutions.append(("%folder_rgb_net", config.folder_rgb_trainer))
# Datasets for the data tests, written in a second by the standard library.
config.substitutions.append(("%make_fixtures", "python3 " + os.path.join(config.cnnc_src_root, "tests", "data", "make_fixtures.py")))
config.substitutions.append(("%compare_grads", "python3 " + os.path.join(config.cnnc_src_root, "tests", "data", "compare_grads.py")))
config.substitutions.append(("%mnist_net_gpu", config.gpu_trainer))
config.substitutions.append(("%lenet5_net_opencl", config.lenet5_opencl_trainer))
config.substitutions.append(("%resnet_net_opencl", config.resnet_opencl_trainer))
config.substitutions.append(("%inception_net_opencl", config.inception_opencl_trainer))
config.substitutions.append(("%mlp_net_opencl", config.mlp_opencl_trainer))
config.substitutions.append(("%features_net", config.features_opencl_trainer))
config.substitutions.append(("%layers_net", config.layers_opencl_trainer))
config.substitutions.append(("%mnist_net", config.trainer))
config.substitutions.append(("%lenet5_net", config.lenet5_trainer))
config.substitutions.append(("%vgg_net", config.vgg_trainer))
config.substitutions.append(("%mixed_net", config.mixed_trainer))
config.substitutions.append(("%compare_runs", os.path.join(config.cnnc_src_root, "tests", "lit", "trainer", "Inputs", "compare_runs.py")))
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

# What chooses the OpenCL device (Halide's, pocl's) and where pocl keeps
# its compiled kernels reach the tests as they reach the probe below.
for name, value in os.environ.items():
    if name.startswith(("HL_OCL_", "POCL_", "OCL_ICD_")) or name == "HOME":
        config.environment[name] = value

# GPUs, as the GPU trainer's `info` finds them: "opencl" when an OpenCL
# device is usable (pocl on the CPU counts: the OpenCL tests run on it),
# "cuda-gpu" when a CUDA GPU is. With CNNC_REQUIRE_OPENCL=1 (.ci/run) a
# missing OpenCL device is an error, not a skipped test.
import subprocess
try:
    info = subprocess.run([config.gpu_trainer, "info"], capture_output=True, text=True, timeout=120).stdout
except (OSError, subprocess.TimeoutExpired) as e:
    info = ""
    lit_config.note(f"{config.gpu_trainer} info failed: {e}")
usable = {line.split(":")[0].strip() for line in info.splitlines() if line.endswith("a device is usable")}
if "opencl" in usable:
    config.available_features.add("opencl")
elif os.environ.get("CNNC_REQUIRE_OPENCL") == "1":
    lit_config.fatal("CNNC_REQUIRE_OPENCL=1 but no OpenCL device is usable (install pocl-opencl-icd):\n" + info)
if "cuda" in usable:
    config.available_features.add("cuda-gpu")

# Distributed training: this build has MPI (its trainers were built with
# --distributed) and mpirun is installed (Debian's openmpi-bin).
import shutil
if config.has_mpi and shutil.which("mpirun"):
    config.available_features.add("mpi")
elif os.environ.get("CNNC_REQUIRE_MPI") == "1":
    lit_config.fatal("CNNC_REQUIRE_MPI=1 but this build has no MPI or mpirun is missing (install libopenmpi-dev "
                     "openmpi-bin, then reconfigure)")
