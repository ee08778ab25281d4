# generated_fresh.cmake - fails when a committed generated file differs from
# what its generator makes now: src/generated/ (tools/gen/kernels.py from
# spec/kernels.toml) and src/cuda/wgmma_ops.cuh (tools/gen/wgmma_ops.py).
# Usage: cmake -DPYTHON=python3 -DROOT=<repo> -DTMP=<scratch dir> -P generated_fresh.cmake
if(NOT PYTHON)
  message(FATAL_ERROR "python3 was not found; the generated sources cannot be checked")
endif()
execute_process(COMMAND ${PYTHON} ${ROOT}/tools/gen/kernels.py --check
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "src/generated/ is stale")
endif()
file(MAKE_DIRECTORY ${TMP})
execute_process(COMMAND ${PYTHON} ${ROOT}/tools/gen/wgmma_ops.py ${TMP}/wgmma_ops.cuh
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "tools/gen/wgmma_ops.py failed: ${err}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${TMP}/wgmma_ops.cuh
                        ${ROOT}/src/cuda/wgmma_ops.cuh RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "src/cuda/wgmma_ops.cuh is stale: run tools/gen/wgmma_ops.py and commit it")
endif()
message("src/cuda/wgmma_ops.cuh matches tools/gen/wgmma_ops.py")
