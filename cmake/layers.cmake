# The layer rules (tools/layers.txt) applied to the targets' link lists at
# configure time: a library that links an upper or a sideways layer stops the
# configure step, before anything is built. The rules are read by one
# program, tools/check-layers, which also checks the #include graph under
# ctest (layers_include_graph); CMake only hands it what the link lists say.
#
# Written for each target defined under the source tree:
#   ${CMAKE_BINARY_DIR}/layers_links.txt  TARGET \t DIR \t LINKS \t SOURCES
# (DIR and SOURCES relative to the source tree; LINKS as the target lists them).
option(ESPFAB_CHECK_LAYERS "Check the targets' link lists against tools/layers.txt at configure time" ON)

function(espfab_layers_collect dir out)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  set(lines "")
  foreach(t IN LISTS targets)
    get_target_property(type ${t} TYPE)
    get_target_property(tdir ${t} SOURCE_DIR)
    file(RELATIVE_PATH rdir ${CMAKE_SOURCE_DIR} ${tdir})
    set(links "")
    if(NOT type STREQUAL "INTERFACE_LIBRARY")
      get_target_property(l ${t} LINK_LIBRARIES)
      if(l)
        list(APPEND links ${l})
      endif()
    endif()
    get_target_property(il ${t} INTERFACE_LINK_LIBRARIES)
    if(il)
      list(APPEND links ${il})
    endif()
    set(srcs "")
    if(NOT type STREQUAL "INTERFACE_LIBRARY")
      get_target_property(s ${t} SOURCES)
      foreach(f IN LISTS s)
        if(NOT IS_ABSOLUTE ${f})
          set(f ${tdir}/${f})
        endif()
        file(RELATIVE_PATH rf ${CMAKE_SOURCE_DIR} ${f})
        list(APPEND srcs ${rf})
      endforeach()
    endif()
    string(APPEND lines "${t}\t${rdir}\t${links}\t${srcs}\n")
  endforeach()
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub IN LISTS subdirs)
    espfab_layers_collect(${sub} sublines)
    string(APPEND lines "${sublines}")
  endforeach()
  set(${out} "${lines}" PARENT_SCOPE)
endfunction()

# Always written: ctest's layers_include_graph reads it too.
espfab_layers_collect(${CMAKE_SOURCE_DIR} espfab_layer_lines)
set(ESPFAB_LAYERS_LINKS ${CMAKE_BINARY_DIR}/layers_links.txt)
file(WRITE ${ESPFAB_LAYERS_LINKS} "${espfab_layer_lines}")
if(ESPFAB_CHECK_LAYERS)
  find_program(ESPFAB_PYTHON3 python3)
  if(ESPFAB_PYTHON3)
    execute_process(
      COMMAND ${ESPFAB_PYTHON3} ${CMAKE_SOURCE_DIR}/tools/check-layers
              --root ${CMAKE_SOURCE_DIR} --links ${ESPFAB_LAYERS_LINKS} --links-only
      RESULT_VARIABLE rc OUTPUT_VARIABLE report ERROR_VARIABLE report)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "a target links across the layers of tools/layers.txt "
        "(fix the link, or list it in tools/layers-allow.txt with the reason):\n${report}")
    elseif(report MATCHES "STALE:")
      message(WARNING "tools/layers-allow.txt lists link violations that are fixed now: delete them\n${report}")
    endif()
  else()
    message(WARNING "python3 not found: the targets' links are not checked against tools/layers.txt")
  endif()
endif()
