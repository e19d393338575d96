# How every test of the tree is registered (see tests/README.md).
#
# zs_add_test(NAME name SOURCES file.c ... [LIBS target ...] [LABELS label ...]
#             [TIMEOUT seconds] [INTERNAL] [ARGS arg ...] [VARIANTS v ...])
#   Builds the program `name` from SOURCES with the warnings of the tree,
#   linked with the test harness (zs_test_common, tests/common/) and LIBS,
#   and registers it with CTest.  INTERNAL: the test may include src/'s
#   internal headers (links zsmalloc_internal).  VARIANTS: one CTest test per
#   value, named name_value, that gets the value as its last argument.
#   TIMEOUT defaults to 300 seconds.
#
# zs_register_test(NAME name COMMAND cmd ... [LABELS label ...] [TIMEOUT s]
#                  [PROPERTIES prop value ...])
#   Registers a test that is not a C program of the harness (a script, a
#   tool run); the same timeout and labels rules; PROPERTIES are passed to
#   set_tests_properties (ENVIRONMENT, SKIP_RETURN_CODE, ...).
set(ZS_TEST_DEFAULT_TIMEOUT 300)

function(zs_register_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "COMMAND;LABELS;PROPERTIES" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT ${ZS_TEST_DEFAULT_TIMEOUT})
  endif()
  add_test(NAME ${T_NAME} COMMAND ${T_COMMAND})
  set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT})
  if(T_LABELS)
    set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}")
  endif()
  if(T_PROPERTIES)
    set_tests_properties(${T_NAME} PROPERTIES ${T_PROPERTIES})
  endif()
endfunction()

function(zs_add_test)
  cmake_parse_arguments(T "INTERNAL" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS;ARGS;VARIANTS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_compile_options(${T_NAME} PRIVATE ${ZS_WARNINGS})
  target_compile_definitions(${T_NAME} PRIVATE _GNU_SOURCE)
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} zs_test_common Threads::Threads)
  if(T_INTERNAL)
    target_link_libraries(${T_NAME} PRIVATE zsmalloc_internal)
    list(APPEND T_LABELS internal)
  endif()
  if(NOT T_VARIANTS)
    zs_register_test(NAME ${T_NAME} COMMAND ${T_NAME} ${T_ARGS}
      TIMEOUT ${T_TIMEOUT} LABELS ${T_LABELS})
  endif()
  foreach(v ${T_VARIANTS})
    zs_register_test(NAME ${T_NAME}_${v} COMMAND ${T_NAME} ${T_ARGS} ${v}
      TIMEOUT ${T_TIMEOUT} LABELS ${T_LABELS})
  endforeach()
endfunction()
