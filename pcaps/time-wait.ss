# netns client
State     Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
TIME-WAIT 0      0          192.0.2.1:48634    192.0.2.2:84         
# netns server
State     Recv-Q Send-Q Local Address:Port Peer Address:Port Process
LISTEN    0      4096       192.0.2.2:84        0.0.0.0:*           
TIME-WAIT 0      0          192.0.2.2:84      192.0.2.1:48640       
