# netns client
State      Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
ESTAB      0      0          192.0.2.1:54802    192.0.2.2:443        
FIN-WAIT-2 0      0          192.0.2.1:54804    192.0.2.2:443        
# netns server
State      Recv-Q Send-Q Local Address:Port Peer Address:Port Process
LISTEN     0      4096       192.0.2.2:443       0.0.0.0:*           
ESTAB      0      0          192.0.2.2:443     192.0.2.1:54802       
CLOSE-WAIT 0      0          192.0.2.2:443     192.0.2.1:54804       
