# espfab-sim's real-time fidelity against its own timing model (1, 8 and 16
# instances on ptys at 115200 and 921600). Run by hand:
#   python3 build/bench/sim_fidelity.py build/bin/espfab-sim
configure_file(${CMAKE_CURRENT_SOURCE_DIR}/sim_fidelity.py ${CMAKE_BINARY_DIR}/bench/sim_fidelity.py COPYONLY)
