# cli_expect.cmake - runs one command of the CLI tests and checks how it
# ended; any check that fails fails the test (cmake exits 1).
#
#   cmake -DEXPECT=<status> [-DSTDOUT_REGEX=<re>] [-DSTDOUT_LAST_LINE=<re>]
#         [-DSTDERR_REGEX=<re>] [-DSKIP_IF_EXISTS=<path>]
#         -P cli_expect.cmake -- <command> [<argument>...]
#
# EXPECT            the exit status the command must end with
# STDOUT_REGEX      stdout must match (CMake regex over the whole output:
#                   ^ and $ are its ends, use (^|\n) for the start of a line)
# STDOUT_LAST_LINE  stdout's last line (without its newline) must match
# STDERR_REGEX      stderr must match
# SKIP_IF_EXISTS    when this path exists, print "SKIPPED: ..." and run
#                   nothing (the test's SKIP_REGULAR_EXPRESSION)
# The command is everything after "--", passed on as it is.
set(cmd "")
set(in_cmd OFF)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE ${last})
  if(in_cmd)
    list(APPEND cmd "${CMAKE_ARGV${i}}")
  elseif(CMAKE_ARGV${i} STREQUAL "--")
    set(in_cmd ON)
  endif()
endforeach()
if(cmd STREQUAL "")
  message(FATAL_ERROR "cli_expect.cmake: no command after --")
endif()
if(NOT DEFINED EXPECT)
  message(FATAL_ERROR "cli_expect.cmake: EXPECT is not set")
endif()
string(REPLACE ";" " " shown "${cmd}")

if(DEFINED SKIP_IF_EXISTS AND EXISTS "${SKIP_IF_EXISTS}")
  message("SKIPPED: ${SKIP_IF_EXISTS} exists; '${shown}' is checked only where it does not")
  return()
endif()

execute_process(COMMAND ${cmd} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(report "'${shown}' exited with ${rc}\n--- stdout ---\n${out}\n--- stderr ---\n${err}")

if(NOT rc STREQUAL "${EXPECT}")
  message(FATAL_ERROR "expected exit status ${EXPECT}: ${report}")
endif()
if(DEFINED STDOUT_REGEX AND NOT out MATCHES "${STDOUT_REGEX}")
  message(FATAL_ERROR "stdout does not match '${STDOUT_REGEX}': ${report}")
endif()
if(DEFINED STDOUT_LAST_LINE)
  string(REGEX REPLACE "\n+$" "" trimmed "${out}")
  string(FIND "${trimmed}" "\n" nl REVERSE)
  math(EXPR start "${nl} + 1")
  string(SUBSTRING "${trimmed}" ${start} -1 last_line)
  if(NOT last_line MATCHES "${STDOUT_LAST_LINE}")
    message(FATAL_ERROR
            "last line '${last_line}' does not match '${STDOUT_LAST_LINE}': ${report}")
  endif()
endif()
if(DEFINED STDERR_REGEX AND NOT err MATCHES "${STDERR_REGEX}")
  message(FATAL_ERROR "stderr does not match '${STDERR_REGEX}': ${report}")
endif()
message("ok: ${report}")
