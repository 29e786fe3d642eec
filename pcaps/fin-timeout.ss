# time 2026-12-05T21:50:56.215806501Z
# netns client
State Recv-Q Send-Q Local Address:Port Peer Address:PortProcess
# netns server
State      Recv-Q Send-Q Local Address:Port Peer Address:Port Process
LISTEN     0      4096       192.0.2.2:96        0.0.0.0:*           
CLOSE-WAIT 0      0          192.0.2.2:96      192.0.2.1:46752       
