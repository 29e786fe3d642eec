# time 2026-12-05T21:50:59.734478715Z
# netns client
State Recv-Q Send-Q Local Address:Port Peer Address:PortProcess
# netns server
State      Recv-Q Send-Q Local Address:Port Peer Address:Port Process
LISTEN     0      4096       192.0.2.2:97        0.0.0.0:*           
CLOSE-WAIT 0      0          192.0.2.2:97      192.0.2.1:57390       
